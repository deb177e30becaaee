-- Save an event id under a name unless a later one is saved there (ids: ms-seq).
-- ARGV: name, event id. Returns the id saved.
local name, id = ARGV[5], ARGV[6]
local function parts(value)
  local ms, seq = string.match(value, '^(%d+)-(%d+)$')
  if not ms then return tonumber(value), 0 end
  return tonumber(ms), tonumber(seq)
end
local current = redis.call('HGET', P .. 'cursors', name)
if current then
  local cms, cseq = parts(current)
  local ms, seq = parts(id)
  if cms > ms or (cms == ms and cseq >= seq) then return current end
end
redis.call('HSET', P .. 'cursors', name, id)
return id
