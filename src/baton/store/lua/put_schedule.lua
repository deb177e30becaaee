-- Write a schedule if its version is still the one the caller read.
-- ARGV: id, expected version ('' = must not exist), json, next fire (us, '' = none),
--       event kind, event data (json)
local id, expected, json, nxt, kind, data =
  ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9], ARGV[10]
local current = version_of(redis.call('HGET', P .. 's', id))
if expected == '' then
  if current then return 'exists' end
elseif current ~= tonumber(expected) then
  return 'conflict'
end
redis.call('HSET', P .. 's', id, json)
if nxt ~= '' then
  redis.call('ZADD', P .. 'due', nxt, id)
else
  redis.call('ZREM', P .. 'due', id)
end
emit(kind, id, cjson.decode(data))
wake('schedules')
return 'ok'
