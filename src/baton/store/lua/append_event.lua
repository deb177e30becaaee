-- ARGV: kind, subject, data json. Returns the event's id and time.
local id = redis.call('XADD', P .. 'ev', 'MAXLEN', '~', MAXEV, '*',
  'k', ARGV[5], 's', ARGV[6], 'd', ARGV[7], 't', fmt(NOW))
return { id, fmt(NOW) }
