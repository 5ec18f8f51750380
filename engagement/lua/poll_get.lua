if redis.call('EXISTS', KEYS[1]) == 0 then return {'not_found'} end
return poll_reply('ok', KEYS[1], KEYS[2])
