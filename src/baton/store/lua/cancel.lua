-- ARGV: id, reason. Returns HGETALL of the run after the change (empty if none).
local id, reason = ARGV[5], ARGV[6]
local key = rkey(id)
local st = redis.call('HGET', key, 'st')
if not st then return {} end
if st == 'queued' or st == 'retrying' or st == 'waiting' then
  redis.call('ZREM', P .. 'ready', id)
  redis.call('ZREM', P .. 'delayed', id)
  redis.call('ZREM', P .. 'waiting', id)
  redis.call('HSET', key, 'st', 'cancelled', 'f', fmt(NOW), 'note', reason)
  redis.call('ZADD', P .. 'fin', fmt(NOW), id)
  run_event('run.cancelled', id)
elseif st == 'running' then
  redis.call('HSET', key, 'cr', '1', 'note', reason)
end
return redis.call('HGETALL', key)
