/**
 * What happens to each BigMemory user (docs/design.md, "Users"): matched by token, created, mapped by the
 * user map, or left unmapped with the conflict that stopped it. Pure and total: row data never
 * throws, every source user gets exactly one decision, and the report groups by its kind.
 */
import { targetUserId } from './ids.js';

/** Stable strings: reports and the ledger group and count by them. */
export const USER_DECISION_KINDS = [
  'mapped',
  'matched_token',
  'created',
  'conflict_email_merged',
  'conflict_email_skipped',
  'conflict_token_skipped',
  'missing_email_placeholder',
  'missing_email_skipped',
  'not_found_skipped',
] as const;
export type UserDecisionKind = (typeof USER_DECISION_KINDS)[number];

/** One row of BigMemory's `users`. `passwordHash` is the `password` column (already a hash). */
export interface SourceUser {
  id: string;
  token: string;
  email: string | null;
  passwordHash: string | null;
  isActive: boolean;
  createdAt: Date;
  updatedAt: Date;
}

/** What the decisions need of an existing Federated Memory user (never its password hash). */
export interface TargetUserRef {
  id: string;
  token: string;
  email: string | null;
}

/** The target's users, looked up by token, by normalised (trimmed, lower-cased) email and by id. */
export interface TargetUserIndex {
  byToken: ReadonlyMap<string, TargetUserRef>;
  byEmail: ReadonlyMap<string, TargetUserRef>;
  byId: ReadonlyMap<string, TargetUserRef>;
}

/** BigMemory user id or token → Federated Memory user id (see `parseUserMap`). */
export type UserMap = ReadonlyMap<string, string>;

/** A Federated Memory `users` row to insert; columns the target variant lacks are dropped by the adapter. */
interface TargetUserInsert {
  id: string;
  token: string;
  email: string | null;
  passwordHash: string | null;
  name: string | null;
  isActive: boolean;
  createdAt: Date;
  updatedAt: Date;
}

export interface UserDecision {
  sourceUserId: string;
  decision: UserDecisionKind;
  /** The Federated Memory user the source user's memories go to; null when unmapped. */
  targetUserId: string | null;
  /** Present only when the decision creates a user. Holds the password hash: never log or return it. */
  create?: TargetUserInsert;
  detail: string;
}

export interface UserDecisionOptions {
  createUsers: boolean;
  /** The target's `email` column is NOT NULL (older Federated Memory installs). */
  emailRequired: boolean;
  /** Map a source user to the target user holding the same email even though the tokens differ. */
  mergeOnEmail: boolean;
  /** When set, users without an email are created as `bigmemory-<source id>@<domain>` where email is required. */
  placeholderEmailDomain?: string;
}

export interface DecideUsersInput {
  sourceUsers: readonly SourceUser[];
  target: TargetUserIndex;
  userMap?: UserMap;
  options: UserDecisionOptions;
}

/** Trimmed and lower-cased; null for a missing or blank email. The target's UNIQUE index is case-sensitive, this is stricter. */
function normaliseEmail(email: string | null | undefined): string | null {
  const trimmed = email?.trim().toLowerCase() ?? '';
  return trimmed === '' ? null : trimmed;
}

export function indexTargetUsers(users: Iterable<TargetUserRef>): TargetUserIndex {
  const byToken = new Map<string, TargetUserRef>();
  const byEmail = new Map<string, TargetUserRef>();
  const byId = new Map<string, TargetUserRef>();
  for (const user of users) {
    byId.set(user.id, user);
    byToken.set(user.token, user);
    const email = normaliseEmail(user.email);
    if (email !== null && !byEmail.has(email)) byEmail.set(email, user);
  }
  return { byToken, byEmail, byId };
}

/**
 * Decisions an email forced: a clash with another user's email, or a missing email the target
 * requires. The report lists these per user. An inactive user created inactive, or one skipped
 * because user creation is off, is what was asked for, not a conflict.
 */
export function isUserConflict(decision: UserDecision): boolean {
  return decision.decision.startsWith('conflict_email_') || decision.decision.startsWith('missing_email_');
}

function placeholderEmail(sourceUserId: string, domain: string): string {
  return `bigmemory-${sourceUserId}@${domain.trim().replace(/^@/, '')}`;
}

/**
 * One decision per source user, returned in input order. Users are decided oldest first so that,
 * when BigMemory holds the same email twice, the older account keeps it and the newer one gets the
 * conflict: the target's email is UNIQUE, so both cannot be created with it.
 */
export function decideUsers(input: DecideUsersInput): UserDecision[] {
  const { sourceUsers, target, userMap, options } = input;
  // Emails claimed by users this run creates, so a later duplicate meets them like an existing user.
  const claimedEmails = new Map<string, { targetUserId: string; sourceUserId: string }>();
  // Tokens of users this run creates: BigMemory may hold one token twice (its UNIQUE dropped or
  // never made), the target's is UNIQUE, so only the older user is created with it.
  const claimedTokens = new Map<string, string>();
  const decisions = new Map<SourceUser, UserDecision>();
  const oldestFirst = [...sourceUsers].sort(
    (a, b) => a.createdAt.getTime() - b.createdAt.getTime() || compareText(a.id, b.id),
  );
  for (const user of oldestFirst) {
    let decision = decideUser(user, target, userMap, options, claimedEmails);
    const holder = decision.create ? claimedTokens.get(decision.create.token) : undefined;
    if (holder !== undefined) {
      decision = {
        sourceUserId: user.id,
        decision: 'conflict_token_skipped',
        targetUserId: null,
        detail: `BigMemory user ${holder} (older) has the same token and was created with it; the target's tokens are unique, so this user is not created (map it with the user map)`,
      };
    } else if (decision.create) {
      claimedTokens.set(decision.create.token, user.id);
    }
    const claimed = normaliseEmail(decision.create?.email);
    if (decision.create && claimed !== null) {
      claimedEmails.set(claimed, { targetUserId: decision.create.id, sourceUserId: user.id });
    }
    decisions.set(user, decision);
  }
  return sourceUsers.map((user) => decisions.get(user)!);
}

function decideUser(
  user: SourceUser,
  target: TargetUserIndex,
  userMap: UserMap | undefined,
  options: UserDecisionOptions,
  claimedEmails: ReadonlyMap<string, { targetUserId: string; sourceUserId: string }>,
): UserDecision {
  const sourceUserId = user.id;
  const mappedTo = userMap?.get(user.id) ?? userMap?.get(user.token);
  if (mappedTo !== undefined) {
    const key = userMap?.has(user.id) ? 'id' : 'token';
    return {
      sourceUserId,
      decision: 'mapped',
      targetUserId: mappedTo,
      detail: `user map maps this user (by ${key}) to target user ${mappedTo}`,
    };
  }

  const byToken = target.byToken.get(user.token);
  if (byToken) {
    return {
      sourceUserId,
      decision: 'matched_token',
      targetUserId: byToken.id,
      detail: `target user ${byToken.id} has the same token`,
    };
  }

  // A user an earlier run created whose BigMemory token has changed since: it is still ours, and
  // inserting it again would collide on the primary key.
  const ownId = targetUserId(user.id);
  const earlierCreated = target.byId.get(ownId);
  if (earlierCreated) {
    return {
      sourceUserId,
      decision: 'matched_token',
      targetUserId: ownId,
      detail: `target user ${ownId} was created for this user by an earlier run; its token has changed since`,
    };
  }

  const email = normaliseEmail(user.email);
  if (email !== null) {
    const conflict = emailConflict(email, target, claimedEmails, options, sourceUserId);
    if (conflict) return conflict;
  }

  if (!options.createUsers) {
    return {
      sourceUserId,
      decision: 'not_found_skipped',
      targetUserId: null,
      detail: 'no target user has this token and user creation is off (createUsers: false)',
    };
  }

  if (email === null && options.emailRequired) {
    const domain = options.placeholderEmailDomain?.trim();
    if (!domain) {
      return {
        sourceUserId,
        decision: 'missing_email_skipped',
        targetUserId: null,
        detail:
          'the BigMemory user has no email, the target requires one and no placeholderEmailDomain is configured',
      };
    }
    const placeholder = placeholderEmail(user.id, domain);
    const conflict = emailConflict(
      normaliseEmail(placeholder)!,
      target,
      claimedEmails,
      options,
      sourceUserId,
    );
    if (conflict) return conflict;
    return {
      sourceUserId,
      decision: 'missing_email_placeholder',
      targetUserId: ownId,
      create: newTargetUser(user, ownId, placeholder),
      detail: `the BigMemory user has no email and the target requires one: created with ${placeholder}${inactiveNote(user)}`,
    };
  }

  const storedEmail = email === null ? null : user.email!.trim();
  return {
    sourceUserId,
    decision: 'created',
    targetUserId: ownId,
    create: newTargetUser(user, ownId, storedEmail),
    detail: `created as target user ${ownId}${inactiveNote(user)}`,
  };
}

function emailConflict(
  email: string,
  target: TargetUserIndex,
  claimedEmails: ReadonlyMap<string, { targetUserId: string; sourceUserId: string }>,
  options: UserDecisionOptions,
  sourceUserId: string,
): UserDecision | null {
  const existing = target.byEmail.get(email);
  const claimed = claimedEmails.get(email);
  const holder = existing
    ? { targetUserId: existing.id, description: `target user ${existing.id}` }
    : claimed
      ? {
          targetUserId: claimed.targetUserId,
          description: `target user ${claimed.targetUserId}, created for BigMemory user ${claimed.sourceUserId} which has the same email`,
        }
      : null;
  if (!holder) return null;
  if (options.mergeOnEmail) {
    return {
      sourceUserId,
      decision: 'conflict_email_merged',
      targetUserId: holder.targetUserId,
      detail: `same email as ${holder.description} but a different token: merged into it (mergeOnEmail)`,
    };
  }
  return {
    sourceUserId,
    decision: 'conflict_email_skipped',
    targetUserId: null,
    detail: `same email as ${holder.description} but a different token: not migrated; map it in the user map or enable mergeOnEmail`,
  };
}

function newTargetUser(user: SourceUser, id: string, email: string | null): TargetUserInsert {
  return {
    id,
    token: user.token,
    email,
    passwordHash: user.passwordHash,
    name: nameFromEmail(email),
    isActive: user.isActive,
    createdAt: user.createdAt,
    updatedAt: user.updatedAt,
  };
}

function nameFromEmail(email: string | null): string | null {
  const local = email?.split('@')[0]?.trim() ?? '';
  return local === '' ? null : local;
}

function inactiveNote(user: SourceUser): string {
  return user.isActive ? '' : '; inactive in BigMemory, so created inactive';
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
