-- Shared by every baton script; the loader puts it in front of each script body.
--
-- Invariants kept by all scripts (see baton/store/redis.py for the key map):
--   * a run is in exactly one of: P.ready / P.delayed (claimable), P.leases (running),
--     P.fin (finished), P.waiting (waiting for other runs; score: when it stops), keyed
--     by run id;
--   * P.conc[schedule id] counts that schedule's runs in P.leases;
--   * every timestamp is integer microseconds of the Redis clock (TIME), written with
--     fmt() so that Lua's number formatting never rounds it;
--   * every state change appends its event to the stream P.ev in the same script.
--   * scripts send no wake-ups: the store's Python side sends them after each verb, from
--     the one table in baton/store/base.py (WAKES).
-- ARGV[1] is the key prefix, ARGV[2] the event stream's length bound, ARGV[3] a clock
-- override for tests ('' = Redis TIME, always in production), ARGV[4] is unused (kept
-- so that every script reads its own arguments from ARGV[5]).

local P = ARGV[1]
local MAXEV = ARGV[2]
local BAND = 4398046511104 -- 2^42: one priority band of the ready set's scores
local EPOCH_MS = 1577836800000 -- 2020-01-01, origin of the due times in ready scores

local function fmt(n)
  return string.format('%.0f', n)
end

local function clock()
  if ARGV[3] ~= '' then return tonumber(ARGV[3]) end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2])
end

local NOW = clock()

-- An event's time is its stream id's (milliseconds): no field of its own.
local function emit_json(kind, subject, json)
  redis.call('XADD', P .. 'ev', 'MAXLEN', '~', MAXEV, '*', 'k', kind, 's', subject, 'd', json)
end

local function emit(kind, subject, data)
  emit_json(kind, subject, cjson.encode(data))
end

-- The lease-token check: whether `token` holds the live lease of a run whose state and
-- token fields read `st` and `tok`. Every write by a lease holder is guarded by it.
local function holds(st, tok, token)
  return st == 'running' and tok == token
end

-- A run's budget of lease losses; runs written before it existed have the default.
local function max_lease_losses(ml)
  return tonumber(ml) or 3
end

local function ready_score(pri, due)
  return (1000 - pri) * BAND + (math.floor(due / 1000) - EPOCH_MS)
end

local function rkey(id)
  return P .. 'r:' .. id
end

-- Put a claimable run in the ready set (due now) or the delayed set (due later).
local function enqueue(id, pri, due)
  if due <= NOW then
    redis.call('ZADD', P .. 'ready', fmt(ready_score(pri, due)), id)
  else
    redis.call('ZADD', P .. 'delayed', fmt(due), id)
  end
end

-- Append a run's event. `f` holds what the caller already read of the run (sid, type,
-- att, st, own, err; late or dur in microseconds); a missing table means read it here.
local function run_event(kind, id, f)
  if not f then
    local r = redis.call('HMGET', rkey(id), 'sid', 'type', 'att', 'st', 'own', 'err', 's', 'f')
    f = { sid = r[1], type = r[2], att = r[3], st = r[4], own = r[5], err = r[6] }
    if kind == 'run.dead' and r[7] and r[7] ~= '' and r[8] and r[8] ~= '' then
      f.dur = tonumber(r[8]) - tonumber(r[7])
    end
  end
  local data = { type = f.type, attempt = tonumber(f.att), state = f.st }
  if f.sid and f.sid ~= '' then data.schedule_id = f.sid else data.schedule_id = cjson.null end
  if f.own and f.own ~= '' then data.node = f.own end
  if f.err and f.err ~= '' then data.error = cjson.decode(f.err)['type'] end
  if f.late then data.lateness = f.late / 1000000 end
  if f.dur then data.duration = f.dur / 1000000 end
  emit(kind, id, data)
end

-- A new run's fields as a table, from its flat {field, value, ...} list; nil when a run
-- with its id exists (fires are idempotent: the first one stands).
local function new_run(id, fields)
  if redis.call('EXISTS', rkey(id)) == 1 then
    return nil
  end
  local f = {}
  for i = 1, #fields, 2 do f[fields[i]] = fields[i + 1] end
  return f
end

-- Write a new run's hash (later duplicates of a field win) and its place in history.
local function store_run(id, fields)
  local seq = redis.call('INCR', P .. 'seq')
  fields[#fields + 1] = 'seq'
  fields[#fields + 1] = seq
  redis.call('HSET', rkey(id), unpack(fields))
  redis.call('ZADD', P .. 'runs', seq, id)
end

-- Create a queued (or waiting) run from a flat {field, value, ...} list unless its id
-- exists.
local function create_run(id, fields)
  local f = new_run(id, fields)
  if not f then
    return 0
  end
  store_run(id, fields)
  if f.st == 'waiting' then
    redis.call('ZADD', P .. 'waiting', f.due, id)
    run_event('run.waiting', id, f)
  else
    enqueue(id, tonumber(f.pri), tonumber(f.due))
    run_event('run.queued', id, f)
  end
  return 1
end

local function conc_add(sid, delta)
  if sid and sid ~= '' then
    local left = redis.call('HINCRBY', P .. 'conc', sid, delta)
    if left <= 0 then
      redis.call('HDEL', P .. 'conc', sid)
    end
  end
end

-- Move delayed runs due by `untl` into the ready set.
local function promote(untl)
  local due = redis.call('ZRANGEBYSCORE', P .. 'delayed', '-inf', fmt(untl), 'LIMIT', 0, 1000)
  for _, id in ipairs(due) do
    local f = redis.call('HMGET', rkey(id), 'pri', 'due')
    redis.call('ZREM', P .. 'delayed', id)
    redis.call('ZADD', P .. 'ready', fmt(ready_score(tonumber(f[1]), tonumber(f[2]))), id)
  end
end

-- Lease up to `limit` ready runs due by NOW + horizon to `owner`, in ready order
-- (priority, then due time), skipping runs whose schedule is at its max_concurrent and,
-- when `types` (a set) is given, runs of other job types.
-- `tokens` holds one fresh lease token per possible claim. Returns one reply per run:
-- HGETALL, or for a run in `known` (the caller holds it) only its lease fields.
local function claim(owner, limit, lease, horizon, tokens, known, types)
  local untl = NOW + horizon
  promote(untl)
  local out = {}
  local taken = {}
  local offset = 0
  local page = limit * 2 + 8
  local expiry = fmt(NOW + lease)
  while #out < limit do
    local ids = redis.call('ZRANGE', P .. 'ready', offset, offset + page - 1)
    for _, id in ipairs(ids) do
      if #out >= limit then break end
      local key = rkey(id)
      local f = redis.call('HMGET', key, 'sid', 'mc', 'due', 'type', 'att')
      local due = tonumber(f[3])
      local ok = due <= untl and (types == nil or types[f[4]] == true)
      if ok and f[1] ~= '' then
        local running = tonumber(redis.call('HGET', P .. 'conc', f[1]) or '0')
        ok = running < tonumber(f[2])
      end
      if ok then
        local start = NOW
        if due > start then start = due end
        local token = tokens[#out + 1]
        redis.call('HSET', key, 'st', 'running', 'own', owner, 'tok', token,
          'lease', expiry, 's', fmt(start), 'f', '')
        redis.call('ZADD', P .. 'leases', expiry, id)
        conc_add(f[1], 1)
        taken[#taken + 1] = id
        run_event('run.started', id,
          { sid = f[1], type = f[4], att = f[5], st = 'running', own = owner, late = start - due })
        if known and known[id] then
          out[#out + 1] = { 'id', id, 'att', f[5], 'st', 'running', 'own', owner,
            'tok', token, 'lease', expiry, 's', fmt(start) }
        else
          out[#out + 1] = redis.call('HGETALL', key)
        end
      end
    end
    if #ids < page then break end
    offset = offset + page
  end
  for _, id in ipairs(taken) do
    redis.call('ZREM', P .. 'ready', id)
  end
  return out
end

-- Schedules live in 1024 buckets (the listpack encoding keeps small hashes and sorted
-- sets compact): s:<b> id -> definition, m:<b> id -> mutable state [version, ...],
-- d:<b> id -> next fire; `due` holds each non-empty d:<b> bucket at its earliest fire.
local NBUCKETS = 1024

-- Memoised: a script asks for one id's bucket several times (its s:, m: and d: keys),
-- and the hash walks every byte of the id.
local buckets = {}

local function bucket(id)
  local found = buckets[id]
  if found then return found end
  local h = 5381
  for i = 1, #id do
    h = (h * 33 + string.byte(id, i)) % 1048576
  end
  found = h % NBUCKETS
  buckets[id] = found
  return found
end

local function skey(kind, id)
  return P .. kind .. ':' .. bucket(id)
end

local function version_of(id)
  local raw = redis.call('HGET', skey('m', id), id)
  if not raw then return nil end
  return tonumber(string.match(raw, '^%[(%d+)'))  -- the state JSON starts with it
end

-- The first of the schedule ids ARGV[from], ARGV[from + step], ... that is stored.
local function first_taken(from, step)
  for i = from, #ARGV, step do
    if redis.call('HEXISTS', skey('m', ARGV[i]), ARGV[i]) == 1 then return ARGV[i] end
  end
  return nil
end

-- Put a schedule's next fire ('' = none) in its bucket; returns the bucket.
local function place_due(id, nxt)
  local b = bucket(id)
  local key = P .. 'd:' .. b
  if nxt == '' then
    redis.call('ZREM', key, id)
  else
    redis.call('ZADD', key, nxt, id)
  end
  return b
end

-- Index bucket b in `due` at its earliest fire (or not at all when it is empty).
local function index_bucket(b)
  local first = redis.call('ZRANGE', P .. 'd:' .. b, 0, 0, 'WITHSCORES')
  if #first == 0 then
    redis.call('ZREM', P .. 'due', b)
  else
    redis.call('ZADD', P .. 'due', first[2], b)
  end
end

local function set_due(id, nxt)
  index_bucket(place_due(id, nxt))
end

-- Delete a schedule; with `dirty` (a set of buckets) its bucket is added there for the
-- caller to index once, else it is indexed now.
local function drop_schedule(id, dirty)
  if redis.call('HDEL', skey('s', id), id) == 0 then return 0 end
  redis.call('HDEL', skey('m', id), id)
  local b = place_due(id, '')
  if dirty then dirty[b] = true else index_bucket(b) end
  return 1
end

-- Remove a schedule and cancel its claimable runs (a job ended its own schedule).
local function stop_schedule(sid, reason)
  if drop_schedule(sid) == 1 then
    emit('schedule.removed', sid, { reason = reason })
  end
  for _, set in ipairs({ 'ready', 'delayed' }) do
    local ids = redis.call('ZRANGE', P .. set, 0, -1)
    for _, id in ipairs(ids) do
      if redis.call('HGET', rkey(id), 'sid') == sid then
        redis.call('ZREM', P .. set, id)
        redis.call('HSET', rkey(id), 'st', 'cancelled', 'f', fmt(NOW),
          'note', 'schedule stopped: ' .. reason)
        redis.call('ZADD', P .. 'fin', fmt(NOW), id)
        run_event('run.cancelled', id)
      end
    end
  end
end

-- The set of job types a claimant runs, from a JSON list ('' = any type: nil).
local function type_set(json)
  if json == '' then return nil end
  local set = {}
  for _, name in ipairs(cjson.decode(json)) do set[name] = true end
  return set
end

-- Skip an earlier fire that a new fire replaces (coalesce), if it still waits, never
-- started: queued on its first attempt.
local function supersede(old, new)
  local key = rkey(old)
  local f = redis.call('HMGET', key, 'st', 'att')
  if f[1] ~= 'queued' or f[2] ~= '1' then return end
  redis.call('ZREM', P .. 'ready', old)
  redis.call('ZREM', P .. 'delayed', old)
  redis.call('HSET', key, 'st', 'skipped', 'f', fmt(NOW), 'note', 'coalesced into ' .. new)
  redis.call('ZADD', P .. 'fin', fmt(NOW), old)
  run_event('run.skipped', old)
end
