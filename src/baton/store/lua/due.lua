-- The schedules due by a time, earliest first, with what is stored of them.
-- ARGV: horizon (us), limit. Returns the clock, then a flat list: id, next fire,
-- definition, mutable, ... of at most `limit` schedules due by clock + horizon.
-- Buckets are visited earliest first and each gives at most what is still missing, so
-- one call reads O(limit) entries however many are due; when more than `limit` are due,
-- every one returned is due, though not always the `limit` earliest of all.
local untl, limit = fmt(NOW + tonumber(ARGV[5])), tonumber(ARGV[6])
local found = {}
local buckets = redis.call('ZRANGEBYSCORE', P .. 'due', '-inf', untl, 'LIMIT', 0, limit)
for _, b in ipairs(buckets) do
  local hits = redis.call('ZRANGEBYSCORE', P .. 'd:' .. b, '-inf', untl, 'WITHSCORES',
    'LIMIT', 0, limit - #found)
  for i = 1, #hits, 2 do
    found[#found + 1] = { hits[i], tonumber(hits[i + 1]), hits[i + 1] }
  end
  if #found >= limit then break end
end
table.sort(found, function(a, b) return a[2] < b[2] end)
local out = { fmt(NOW) }
for i = 1, #found do
  local id = found[i][1]
  out[#out + 1] = id
  out[#out + 1] = found[i][3]
  out[#out + 1] = redis.call('HGET', skey('s', id), id) or ''
  out[#out + 1] = redis.call('HGET', skey('m', id), id) or ''
end
return out
