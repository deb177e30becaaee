-- The first step of a bulk add written in several scripts: refuse it if any id is taken.
-- ARGV: the add's abort key suffix, ids... On a taken id, sets the abort key (which the
-- add's later scripts, queued behind this one on the same connection, check first) and
-- returns {'exists', id}; else {'ok'}.
local abort = P .. 'abort:' .. ARGV[5]
for i = 6, #ARGV do
  if redis.call('HEXISTS', skey('m', ARGV[i]), ARGV[i]) == 1 then
    redis.call('SET', abort, '1', 'PX', 60000)
    return { 'exists', ARGV[i] }
  end
end
return { 'ok' }
