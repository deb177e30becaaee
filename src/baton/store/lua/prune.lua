-- Delete finished runs finished before a cutoff, then all but the newest `keep`.
-- ARGV: cutoff (us), keep, batch bound. Returns how many were deleted.
local cutoff, keep, bound = ARGV[5], tonumber(ARGV[6]), tonumber(ARGV[7])
local function drop(ids)
  for _, id in ipairs(ids) do
    redis.call('DEL', rkey(id))
    redis.call('ZREM', P .. 'fin', id)
    redis.call('ZREM', P .. 'runs', id)
  end
  return #ids
end
local n = drop(redis.call('ZRANGEBYSCORE', P .. 'fin', '-inf', '(' .. cutoff, 'LIMIT', 0, bound))
local extra = redis.call('ZCARD', P .. 'fin') - keep
if extra > 0 then
  if extra > bound then extra = bound end
  n = n + drop(redis.call('ZRANGE', P .. 'fin', 0, extra - 1))
end
return n
