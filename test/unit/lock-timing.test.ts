import { describe, expect, it } from 'vitest';
import { LOCK_HEARTBEAT_SECONDS, LOCK_STALE_SECONDS } from '../../functions/db/run-lock.js';
import { InvalidInputError } from '../../functions/errors.js';
import { lockTimingFromEnv } from '../../functions/runtime/lock-timing.js';

describe('Function: lockTimingFromEnv', () => {
  it('keeps the defaults when MIGRATION_LOCK_STALE_SECONDS is not set', () => {
    expect(lockTimingFromEnv({})).toEqual({
      staleSeconds: LOCK_STALE_SECONDS,
      heartbeatSeconds: LOCK_HEARTBEAT_SECONDS,
    });
  });

  it('beats four times within a shorter stale time, never less often than the default', () => {
    expect(lockTimingFromEnv({ MIGRATION_LOCK_STALE_SECONDS: '8' })).toEqual({
      staleSeconds: 8,
      heartbeatSeconds: 2,
    });
    expect(lockTimingFromEnv({ MIGRATION_LOCK_STALE_SECONDS: '3600' })).toEqual({
      staleSeconds: 3600,
      heartbeatSeconds: LOCK_HEARTBEAT_SECONDS,
    });
  });

  it.each(['1', '0', '-5', '2.5', 'soon'])('refuses %j, naming the variable', (raw) => {
    expect(() => lockTimingFromEnv({ MIGRATION_LOCK_STALE_SECONDS: raw })).toThrow(InvalidInputError);
    expect(() => lockTimingFromEnv({ MIGRATION_LOCK_STALE_SECONDS: raw })).toThrow(
      /MIGRATION_LOCK_STALE_SECONDS must be an integer ≥ 2/,
    );
  });
});
