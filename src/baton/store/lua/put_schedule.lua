-- Write a schedule if its version is still the one the caller read.
-- ARGV: id, expected version ('' = must not exist), definition json, mutable json,
--       next fire (us, '' = none), event kind, event data json, shape id, shape json
local id, expected, def, mut, nxt, kind, data, shape, shape_json =
  ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9], ARGV[10], ARGV[11], ARGV[12], ARGV[13]
local current = version_of(id)
if expected == '' then
  if current then return 'exists' end
elseif current ~= tonumber(expected) then
  return 'conflict'
end
redis.call('HSET', P .. 'shapes', shape, shape_json)
redis.call('HSET', skey('s', id), id, def)
redis.call('HSET', skey('m', id), id, mut)
set_due(id, nxt)
emit(kind, id, cjson.decode(data))
return 'ok'
