-- The schedules due by a time, earliest first, with what is stored of them.
-- ARGV: until (us), limit. Returns a flat list: id, next fire, definition, mutable, ...
local untl, limit = ARGV[5], tonumber(ARGV[6])
local found = {}
local buckets = redis.call('ZRANGEBYSCORE', P .. 'due', '-inf', untl, 'LIMIT', 0, limit)
for _, b in ipairs(buckets) do
  local hits = redis.call('ZRANGEBYSCORE', P .. 'd:' .. b, '-inf', untl, 'WITHSCORES',
    'LIMIT', 0, limit)
  for i = 1, #hits, 2 do
    found[#found + 1] = { hits[i], tonumber(hits[i + 1]), hits[i + 1] }
  end
end
table.sort(found, function(a, b) return a[2] < b[2] end)
local out = {}
for i = 1, math.min(limit, #found) do
  local id = found[i][1]
  out[#out + 1] = id
  out[#out + 1] = found[i][3]
  out[#out + 1] = redis.call('HGET', skey('s', id), id) or ''
  out[#out + 1] = redis.call('HGET', skey('m', id), id) or ''
end
return out
