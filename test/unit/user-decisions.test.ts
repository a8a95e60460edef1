import { describe, expect, it } from 'vitest';
import { targetUserId } from '../../functions/core/ids.js';
import {
  decideUsers,
  indexTargetUsers,
  isUserConflict,
  type SourceUser,
  type TargetUserRef,
  type UserDecisionOptions,
} from '../../functions/core/user-decisions.js';
import { parseUserMap, validateUserMap } from '../../functions/core/user-map.js';
import { InvalidInputError } from '../../functions/errors.js';

let sequence = 0;
function sourceUser(overrides: Partial<SourceUser> = {}): SourceUser {
  sequence += 1;
  const n = String(sequence).padStart(12, '0');
  return {
    id: `00000000-0000-4000-8000-${n}`,
    token: `token-${n}`,
    email: `user${sequence}@example.com`,
    passwordHash: `$2b$10$hash${sequence}`,
    isActive: true,
    createdAt: new Date(Date.UTC(2024, 0, 1, 0, 0, sequence)),
    updatedAt: new Date(Date.UTC(2024, 5, 1, 0, 0, sequence)),
    ...overrides,
  };
}

function targetUser(overrides: Partial<TargetUserRef> = {}): TargetUserRef {
  sequence += 1;
  return {
    id: `fed-${sequence}`,
    token: `fed-token-${sequence}`,
    email: `fed${sequence}@example.com`,
    ...overrides,
  };
}

const CREATE: UserDecisionOptions = { createUsers: true, emailRequired: false, mergeOnEmail: false };

describe('Function: decideUsers', () => {
  it('matches a target user with the same token', () => {
    // Prepare
    const user = sourceUser();
    const existing = targetUser({ token: user.token, email: 'other@example.com' });

    // Act
    const [decision] = decideUsers({
      sourceUsers: [user],
      target: indexTargetUsers([existing]),
      options: CREATE,
    });

    // Assess
    expect(decision).toMatchObject({
      sourceUserId: user.id,
      decision: 'matched_token',
      targetUserId: existing.id,
    });
    expect(decision?.create).toBeUndefined();
  });

  it('creates an absent user with its hash, flags, timestamps and a name from the email', () => {
    // Prepare
    const user = sourceUser({ email: '  Alice.Smith@Example.com ' });

    // Act
    const [decision] = decideUsers({ sourceUsers: [user], target: indexTargetUsers([]), options: CREATE });

    // Assess
    expect(decision?.decision).toBe('created');
    expect(decision?.targetUserId).toBe(targetUserId(user.id));
    expect(decision?.create).toEqual({
      id: targetUserId(user.id),
      token: user.token,
      email: 'Alice.Smith@Example.com',
      passwordHash: user.passwordHash,
      name: 'Alice.Smith',
      isActive: true,
      createdAt: user.createdAt,
      updatedAt: user.updatedAt,
    });
    expect(isUserConflict(decision!)).toBe(false);
  });

  it('creates an inactive user inactive and says so', () => {
    // Prepare
    const user = sourceUser({ isActive: false });

    // Act
    const [decision] = decideUsers({ sourceUsers: [user], target: indexTargetUsers([]), options: CREATE });

    // Assess
    expect(decision?.decision).toBe('created');
    expect(decision?.create?.isActive).toBe(false);
    expect(decision?.detail).toContain('created inactive');
    expect(isUserConflict(decision!)).toBe(false);
  });

  it('creates a user without email where the target allows it', () => {
    // Prepare
    const user = sourceUser({ email: null });

    // Act
    const [decision] = decideUsers({ sourceUsers: [user], target: indexTargetUsers([]), options: CREATE });

    // Assess
    expect(decision?.decision).toBe('created');
    expect(decision?.create).toMatchObject({ email: null, name: null });
  });

  it('maps via the user map before matching by token, keyed by id or by token', () => {
    // Prepare
    const byId = sourceUser();
    const byToken = sourceUser();
    const sameToken = targetUser({ token: byId.token });
    const chosen = targetUser();
    const userMap = new Map([
      [byId.id, chosen.id],
      [byToken.token, chosen.id],
    ]);

    // Act
    const decisions = decideUsers({
      sourceUsers: [byId, byToken],
      target: indexTargetUsers([sameToken, chosen]),
      userMap,
      options: CREATE,
    });

    // Assess
    expect(decisions.map((d) => [d.decision, d.targetUserId])).toEqual([
      ['mapped', chosen.id],
      ['mapped', chosen.id],
    ]);
    expect(decisions[1]?.detail).toContain('by token');
  });

  it('skips a user whose email a target user with another token holds, comparing emails case-insensitively', () => {
    // Prepare
    const user = sourceUser({ email: ' Bob@Example.COM' });
    const holder = targetUser({ email: 'bob@example.com' });

    // Act
    const [decision] = decideUsers({
      sourceUsers: [user],
      target: indexTargetUsers([holder]),
      options: CREATE,
    });

    // Assess
    expect(decision).toMatchObject({ decision: 'conflict_email_skipped', targetUserId: null });
    expect(isUserConflict(decision!)).toBe(true);
    expect(decision?.detail).toContain(holder.id);
    expect(decision?.detail).toContain('mergeOnEmail');
  });

  it('merges into the target user holding the same email when mergeOnEmail is on', () => {
    // Prepare
    const user = sourceUser({ email: 'carol@example.com' });
    const holder = targetUser({ email: 'CAROL@example.com' });

    // Act
    const [decision] = decideUsers({
      sourceUsers: [user],
      target: indexTargetUsers([holder]),
      options: { ...CREATE, mergeOnEmail: true },
    });

    // Assess
    expect(decision).toMatchObject({ decision: 'conflict_email_merged', targetUserId: holder.id });
    expect(decision?.create).toBeUndefined();
  });

  it('creates only the older of two source users sharing an email, whatever the input order', () => {
    // Prepare
    const older = sourceUser({ email: 'dup@example.com', createdAt: new Date('2023-01-01T00:00:00.000Z') });
    const newer = sourceUser({ email: 'DUP@example.com ', createdAt: new Date('2024-01-01T00:00:00.000Z') });

    // Act
    const skipped = decideUsers({
      sourceUsers: [newer, older],
      target: indexTargetUsers([]),
      options: CREATE,
    });
    const merged = decideUsers({
      sourceUsers: [newer, older],
      target: indexTargetUsers([]),
      options: { ...CREATE, mergeOnEmail: true },
    });

    // Assess
    expect(skipped.map((d) => d.sourceUserId)).toEqual([newer.id, older.id]);
    expect(skipped.map((d) => d.decision)).toEqual(['conflict_email_skipped', 'created']);
    expect(skipped[0]?.detail).toContain(older.id);
    expect(merged.map((d) => [d.decision, d.targetUserId])).toEqual([
      ['conflict_email_merged', targetUserId(older.id)],
      ['created', targetUserId(older.id)],
    ]);
  });

  it('creates a placeholder email where the target requires one and a domain is configured', () => {
    // Prepare
    const user = sourceUser({ email: '   ' });

    // Act
    const [decision] = decideUsers({
      sourceUsers: [user],
      target: indexTargetUsers([]),
      options: { ...CREATE, emailRequired: true, placeholderEmailDomain: 'migrated.invalid' },
    });

    // Assess
    expect(decision?.decision).toBe('missing_email_placeholder');
    expect(decision?.create?.email).toBe(`bigmemory-${user.id}@migrated.invalid`);
    expect(decision?.targetUserId).toBe(targetUserId(user.id));
  });

  it('skips a user without email where the target requires one and no placeholder is configured', () => {
    // Prepare
    const user = sourceUser({ email: null });

    // Act
    const [decision] = decideUsers({
      sourceUsers: [user],
      target: indexTargetUsers([]),
      options: { ...CREATE, emailRequired: true },
    });

    // Assess
    expect(decision).toMatchObject({ decision: 'missing_email_skipped', targetUserId: null });
    expect(decision?.detail).toContain('placeholderEmailDomain');
  });

  it('leaves an unmatched user unmapped when user creation is off', () => {
    // Prepare
    const user = sourceUser();

    // Act
    const [decision] = decideUsers({
      sourceUsers: [user],
      target: indexTargetUsers([]),
      options: { ...CREATE, createUsers: false },
    });

    // Assess
    expect(decision).toMatchObject({ decision: 'not_found_skipped', targetUserId: null });
    expect(decision?.create).toBeUndefined();
  });

  it('recognises a user an earlier run created even after its token changed', () => {
    // Prepare
    const user = sourceUser({ token: 'rotated-token' });
    const earlier = targetUser({ id: targetUserId(user.id), token: 'old-token', email: user.email });

    // Act
    const [decision] = decideUsers({
      sourceUsers: [user],
      target: indexTargetUsers([earlier]),
      options: CREATE,
    });

    // Assess
    expect(decision).toMatchObject({ decision: 'matched_token', targetUserId: earlier.id });
    expect(decision?.create).toBeUndefined();
  });
});

describe('Function: parseUserMap', () => {
  it('reads a flat map and the "users" wrapper, trimming keys and values', () => {
    // Act
    const flat = parseUserMap({ ' src-1 ': ' fed-1 ', 'token-2': 'fed-2' });
    const wrapped = parseUserMap('{ "users": { "src-1": "fed-1" } }');

    // Assess
    expect([...flat]).toEqual([
      ['src-1', 'fed-1'],
      ['token-2', 'fed-2'],
    ]);
    expect([...wrapped]).toEqual([['src-1', 'fed-1']]);
  });

  it('names the bad entry and the expected format', () => {
    // Act
    const attempt = () => parseUserMap({ good: 'fed-1', bad: 42 });

    // Assess
    expect(attempt).toThrow(InvalidInputError);
    expect(attempt).toThrow(
      /entry "bad" must map to a Federated Memory user id.*got a number.*"<BigMemory user id or token>"/,
    );
  });

  it('refuses an empty target id, a non-object and invalid JSON with the format', () => {
    // Assess
    expect(() => parseUserMap({ 'src-1': '  ' })).toThrow(
      /entry "src-1" maps to an empty Federated Memory user id/,
    );
    expect(() => parseUserMap(['src-1', 'fed-1'])).toThrow(/not a JSON object \(an array\)/);
    expect(() => parseUserMap('{ "src-1": ')).toThrow(/not valid JSON/);
  });
});

describe('Function: validateUserMap', () => {
  it('accepts keys that are source ids or tokens and values that are target ids', () => {
    // Prepare
    const map = new Map([
      ['src-1', 'fed-1'],
      ['token-2', 'fed-1'],
    ]);

    // Act
    const attempt = () =>
      validateUserMap(map, { sourceUserIds: ['src-1'], sourceTokens: ['token-2'], targetUserIds: ['fed-1'] });

    // Assess
    expect(attempt).not.toThrow();
  });

  it('lists the first unknown target ids with their count and the unknown source keys', () => {
    // Prepare
    const map = new Map(
      Array.from({ length: 8 }, (_, i) => [`src-${i}`, `missing-${i}`] as [string, string]),
    );
    map.set('ghost', 'fed-1');
    const known = {
      sourceUserIds: Array.from({ length: 8 }, (_, i) => `src-${i}`),
      sourceTokens: [],
      targetUserIds: ['fed-1'],
    };

    // Act
    let error: unknown;
    try {
      validateUserMap(map, known);
    } catch (caught) {
      error = caught;
    }

    // Assess
    expect(error).toBeInstanceOf(InvalidInputError);
    const message = (error as Error).message;
    expect(message).toContain('nothing was written');
    expect(message).toContain('8 target user id(s) do not exist');
    expect(message).toContain('"missing-0", "missing-1", "missing-2", "missing-3", "missing-4" and 3 more');
    expect(message).toContain('1 key(s) are neither a BigMemory user id nor a token: "ghost"');
    expect((error as InvalidInputError).context).toMatchObject({
      unknownTargetCount: 8,
      unknownSourceCount: 1,
    });
  });
});
