-- Write many schedules in one step: all of them, or none if one is taken (without
-- replace). A replaced schedule's version goes on from the stored one: its state JSON
-- always starts with the version, which is rewritten here.
-- ARGV: replace ('1' / ''), the abort key suffix of a bulk add written in several
--       scripts ('' = this script is the whole add; see check_absent.lua), the number of
--       shapes k, k pairs (shape id, shape json), then per schedule: id, definition,
--       state (version 1), next fire (us, '' = none), shape id.
-- Returns {'ok', versions}, {'exists', id} or {'aborted'} (an earlier step refused).
local replace = ARGV[5] == '1'
local abort = ARGV[6] ~= '' and P .. 'abort:' .. ARGV[6] or nil
if abort and redis.call('EXISTS', abort) == 1 then
  return { 'aborted' }
end
local nshapes = tonumber(ARGV[7])
local shapes = 8
local first = shapes + 2 * nshapes
local taken = not replace and first_taken(first, 5)
if taken then
  -- Taken since check_absent ran (a concurrent add): the steps after this stop too.
  if abort then redis.call('SET', abort, '1', 'PX', 60000) end
  return { 'exists', taken }
end
-- Per shape: store it, and the JSON of its schedules' events (their job type).
local typed = {}
for i = shapes, first - 1, 2 do
  redis.call('HSET', P .. 'shapes', ARGV[i], ARGV[i + 1])
  typed[ARGV[i]] = cjson.encode({ type = cjson.decode(ARGV[i + 1])['t'] })
end
local versions = {}
local touched = {}
for i = first, #ARGV, 5 do
  local id, state, nxt = ARGV[i], ARGV[i + 2], ARGV[i + 3]
  local kind = 'schedule.added'
  local current = replace and version_of(id) or nil
  if current then
    kind = 'schedule.replaced'
    state = string.gsub(state, '^%[%d+', '[' .. fmt(current + 1), 1)
  end
  versions[#versions + 1] = (current or 0) + 1
  redis.call('HSET', skey('s', id), id, ARGV[i + 1])
  redis.call('HSET', skey('m', id), id, state)
  touched[place_due(id, nxt)] = true
  emit_json(kind, id, typed[ARGV[i + 4]])
end
-- Each touched bucket's earliest fire, once per bucket rather than once per schedule.
for b in pairs(touched) do
  index_bucket(b)
end
return { 'ok', versions }
