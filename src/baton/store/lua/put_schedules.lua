-- Write many schedules in one step: all of them, or none if one is taken (without
-- replace) or changed since the caller read it.
-- ARGV: replace ('1' / ''), then per schedule: id, expected version ('' = new),
--       definition, state, next fire (us, '' = none), shape id, shape json
local replace = ARGV[5] == '1'
for i = 6, #ARGV, 7 do
  local id, expected = ARGV[i], ARGV[i + 1]
  local current = version_of(id)
  if current and not replace then return 'exists:' .. id end
  if (expected == '' and current) or (expected ~= '' and current ~= tonumber(expected)) then
    return 'conflict:' .. id
  end
end
for i = 6, #ARGV, 7 do
  local id, expected = ARGV[i], ARGV[i + 1]
  redis.call('HSET', P .. 'shapes', ARGV[i + 5], ARGV[i + 6])
  redis.call('HSET', skey('s', id), id, ARGV[i + 2])
  redis.call('HSET', skey('m', id), id, ARGV[i + 3])
  set_due(id, ARGV[i + 4])
  local kind = 'schedule.added'
  if expected ~= '' then kind = 'schedule.replaced' end
  emit(kind, id, { type = cjson.decode(redis.call('HGET', P .. 'shapes', ARGV[i + 5]))['t'] })
end
wake('schedules')
return 'ok'
