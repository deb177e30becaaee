-- The first step of a bulk add written in several scripts: refuse it if any id is taken.
-- ARGV: the add's abort key suffix, ids... On a taken id, sets the abort key (which the
-- add's later scripts, queued behind this one on the same connection, check first) and
-- returns {'exists', id}; else {'ok'}.
local taken = first_taken(6, 1)
if taken then
  redis.call('SET', P .. 'abort:' .. ARGV[5], '1', 'PX', 60000)
  return { 'exists', taken }
end
return { 'ok' }
