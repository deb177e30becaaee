-- Give a run that ended failed, dead, cancelled or skipped one more attempt, due now;
-- or, given a time (us), waiting for its parents again until then.
-- ARGV: id, reason, wait until ('' = queue it). Returns HGETALL of the run after the
-- change (empty if none).
local id, reason, untl = ARGV[5], ARGV[6], ARGV[7]
local key = rkey(id)
local f = redis.call('HMGET', key, 'st', 'att', 'pri')
if not f[1] then return {} end
if f[1] == 'failed' or f[1] == 'dead' or f[1] == 'cancelled' or f[1] == 'skipped' then
  local st, due = 'queued', fmt(NOW)
  if untl ~= '' then st, due = 'waiting', untl end
  redis.call('HSET', key, 'st', st, 'att', tonumber(f[2]) + 1, 'due', due,
    'own', '', 'tok', '', 'lease', '', 'cr', '', 's', '', 'f', '', 'err', '', 'note', reason)
  redis.call('ZREM', P .. 'fin', id)
  if untl ~= '' then
    redis.call('ZADD', P .. 'waiting', untl, id)
    run_event('run.waiting', id)
  else
    enqueue(id, tonumber(f[3]), NOW)
    run_event('run.queued', id)
  end
end
return redis.call('HGETALL', key)
