-- Record outcomes of attempts, each only if its lease token still matches.
-- ARGV: json list of {id, tok, st, err, note, delay (us), stop ('' = no)}.
-- Returns a list of 0/1.
--
-- A recorded run keeps its last token ('tok') until it is queued or claimed again, so a
-- call repeated because its answer was lost (a timeout) finds its own outcome there
-- and answers 1 again instead of "lease lost".
local results = {}
for i, c in ipairs(cjson.decode(ARGV[5])) do
  local key = rkey(c.id)
  local f = redis.call('HMGET', key, 'st', 'tok', 'sid', 'att', 'pri', 'type', 'own', 's')
  if f[1] ~= 'running' and f[2] == c.tok and c.tok ~= '' then
    results[i] = 1
  elseif holds(f[1], f[2], c.tok) then
    local att = tonumber(f[4])
    -- Claimed ahead, a run starts (by the record) when due; never finish before that.
    local fin = math.max(NOW, tonumber(f[8]) or NOW)
    redis.call('ZREM', P .. 'leases', c.id)
    conc_add(f[3], -1)
    redis.call('HSET', key, 'st', c.st, 'lease', '', 'f', fmt(fin), 'err', c.err,
      'note', c.note)
    if c.st == 'retrying' or c.st == 'queued' then
      -- retrying: the next attempt after a backoff; queued: sent back to wait (its
      -- breaker was open), no attempt spent and no start or finish recorded.
      local due = NOW + c.delay
      if c.st == 'retrying' then att = att + 1 else redis.call('HSET', key, 's', '', 'f', '') end
      redis.call('HSET', key, 'att', att, 'due', fmt(due))
      enqueue(c.id, tonumber(f[5]), due)
    else
      redis.call('ZADD', P .. 'fin', fmt(fin), c.id)
    end
    local dur = nil
    if c.st ~= 'queued' then dur = fin - tonumber(f[8]) end
    run_event('run.' .. c.st, c.id,
      { sid = f[3], type = f[6], att = att, st = c.st, own = f[7], err = c.err, dur = dur })
    if c.stop ~= '' and f[3] and f[3] ~= '' then
      stop_schedule(f[3], c.stop)
    end
    results[i] = 1
  else
    results[i] = 0
  end
end
return results
