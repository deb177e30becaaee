-- ARGV: kind, subject, data json. Returns the event's id.
return redis.call('XADD', P .. 'ev', 'MAXLEN', '~', MAXEV, '*',
  'k', ARGV[5], 's', ARGV[6], 'd', ARGV[7])
