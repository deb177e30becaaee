-- Commit fire plans, each guarded by the version its schedule had when it was read;
-- then, if asked, claim like claim.lua.
-- ARGV: plans (json list of {id, v, mut ('' = trigger finished: remove), next, runs:
--       [[id, field, value, ...]], ev: [[kind, data], ...] (the schedule's events), sup:
--       [[earlier run id, new run id], ...] (coalesce)}), owner ('' = no claim), limit,
--       lease, horizon, job types (json list, '' = any), tokens...
--
-- When the caller claims and no older run is ready, the new runs are the whole queue:
-- those it may take are written once, straight as running (with both their queued and
-- started events), instead of being queued and then claimed. Otherwise every new run is
-- queued and claim() takes from the queue in its usual order.
local plans = cjson.decode(ARGV[5])
local owner = ARGV[6]
local untl
local direct = false
local types = nil
if owner ~= '' then
  types = type_set(ARGV[10])
  untl = NOW + tonumber(ARGV[9])
  promote(untl)
  direct = redis.call('ZCARD', P .. 'ready') == 0
end
local created = {}
local known = {}
local fresh = {}
local dirty = {}
for _, plan in ipairs(plans) do
  if version_of(plan.id) == plan.v then
    if plan.mut == '' then
      drop_schedule(plan.id, dirty)
    else
      redis.call('HSET', skey('m', plan.id), plan.id, plan.mut)
      dirty[place_due(plan.id, plan.next)] = true
    end
    for _, note in ipairs(plan.ev) do
      emit(note[1], plan.id, note[2])
    end
    for _, run in ipairs(plan.runs) do
      local rid = table.remove(run, 1)
      if direct then
        local f = new_run(rid, run)
        if f then
          f.score = ready_score(tonumber(f.pri), tonumber(f.due))
          fresh[#fresh + 1] = { rid, run, f }
          created[#created + 1] = rid
        end
      elseif create_run(rid, run) == 1 then
        created[#created + 1] = rid
        known[rid] = true
      end
    end
    for _, pair in ipairs(plan.sup) do
      supersede(pair[1], pair[2])
    end
  end
end
for b in pairs(dirty) do index_bucket(b) end

local claimed = {}
local tokens = {}
for i = 11, #ARGV do tokens[#tokens + 1] = ARGV[i] end
if direct then
  -- claim() order: priority, then due time, then id.
  table.sort(fresh, function(a, b)
    if a[3].score ~= b[3].score then return a[3].score < b[3].score end
    return a[1] < b[1]
  end)
  local limit = tonumber(ARGV[7])
  local expiry = fmt(NOW + tonumber(ARGV[8]))
  for _, item in ipairs(fresh) do
    local id, fields, f = item[1], item[2], item[3]
    local due = tonumber(f.due)
    local ok = #claimed < limit and due <= untl and (types == nil or types[f.type] == true)
    if ok and f.sid ~= '' then
      ok = tonumber(redis.call('HGET', P .. 'conc', f.sid) or '0') < tonumber(f.mc)
    end
    if ok then
      local start = fmt(math.max(NOW, due))
      local token = tokens[#claimed + 1]
      for i = 1, #fields, 2 do
        if fields[i] == 'st' then fields[i + 1] = 'running' break end
      end
      for _, v in ipairs({ 'own', owner, 'tok', token, 'lease', expiry, 's', start }) do
        fields[#fields + 1] = v
      end
      store_run(id, fields)
      redis.call('ZADD', P .. 'leases', expiry, id)
      conc_add(f.sid, 1)
      run_event('run.queued', id, f)
      f.st, f.own, f.late = 'running', owner, tonumber(start) - due
      run_event('run.started', id, f)
      claimed[#claimed + 1] = { 'id', id, 'att', f.att, 'st', 'running', 'own', owner,
        'tok', token, 'lease', expiry, 's', start }
    else
      store_run(id, fields)
      enqueue(id, tonumber(f.pri), due)
      run_event('run.queued', id, f)
    end
  end
elseif owner ~= '' then
  claimed = claim(owner, tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9]), tokens, known,
    types)
end
return { created, claimed }
