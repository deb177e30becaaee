-- Write many schedules in one step: all of them, or none if one is taken (without
-- replace). A replaced schedule's version goes on from the stored one: its state JSON
-- always starts with the version, which is rewritten here.
-- ARGV: replace ('1' / ''), then per schedule: id, definition, state (version 1),
--       next fire (us, '' = none), shape id, shape json
local replace = ARGV[5] == '1'
if not replace then
  for i = 6, #ARGV, 6 do
    if version_of(ARGV[i]) then return { 'exists', ARGV[i] } end
  end
end
local versions = {}
local types = {}
for i = 6, #ARGV, 6 do
  local id, state = ARGV[i], ARGV[i + 2]
  local kind = 'schedule.added'
  local current = version_of(id)
  if current then
    kind = 'schedule.replaced'
    state = string.gsub(state, '^%[%d+', '[' .. fmt(current + 1), 1)
  end
  versions[#versions + 1] = (current or 0) + 1
  redis.call('HSET', P .. 'shapes', ARGV[i + 4], ARGV[i + 5])
  redis.call('HSET', skey('s', id), id, ARGV[i + 1])
  redis.call('HSET', skey('m', id), id, state)
  set_due(id, ARGV[i + 3])
  local shape = ARGV[i + 4]
  if not types[shape] then types[shape] = cjson.decode(ARGV[i + 5])['t'] end
  emit(kind, id, { type = types[shape] })
end
wake('schedules')
return { 'ok', versions }
