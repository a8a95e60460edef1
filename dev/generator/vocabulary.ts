import type { ModuleId } from './modules.js';
import type { RowRandom } from './seeded-random.js';

/**
 * The words the generator writes with. Category spellings and tags are the signals the migration's
 * rules must recognise; the spellings are deliberately messy (case, padding, aliases) as real
 * installations are.
 */

/** `source_metadata.category` values per module: canonical names in mixed case, padded, and aliases. */
export const CATEGORY_SPELLINGS: Record<ModuleId, readonly string[]> = {
  work: ['work', 'Work', 'WORK', ' work', 'business', 'Job'],
  personal: ['personal', 'Personal ', 'PERSONAL', 'life', 'Family'],
  technical: ['technical', 'TECHNICAL', 'Tech', 'code', 'Programming', 'development'],
  learning: ['learning', 'Learning', 'LEARNING', 'education', 'Study', 'Courses'],
  communication: ['communication', 'Communication', 'Communications', 'Email', 'messages'],
  creative: ['creative', 'Creative', 'CREATIVE', 'art', 'Writing'],
};

/** Categories that name no module: the rules must fall through them. */
export const UNKNOWN_CATEGORIES = ['misc', 'Other', 'General', 'uncategorized', 'Inbox'] as const;

export const TAG_SETS: Record<ModuleId, readonly (readonly string[])[]> = {
  work: [['work'], ['meeting', 'deadline'], ['project', 'planning'], ['client', 'Q3']],
  personal: [['family'], ['health', 'fitness'], ['travel'], ['friends', 'birthday']],
  technical: [['code', 'typescript'], ['bug', 'python'], ['api', 'docker'], ['sql']],
  learning: [['course'], ['tutorial', 'notes'], ['book', 'study'], ['lecture', 'research']],
  communication: [['email'], ['slack', 'thread'], ['call'], ['message', 'reply']],
  creative: [['poem'], ['story', 'idea'], ['music'], ['drawing', 'design']],
};

export const FIRST_NAMES = [
  'Anna',
  'Ben',
  'Chloe',
  'David',
  'Elena',
  'Farid',
  'Grace',
  'Hiro',
  'Ines',
  'Jonas',
  'Kemal',
  'Lena',
  'Marco',
  'Nadia',
  'Omar',
  'Priya',
  'Quentin',
  'Rosa',
  'Sven',
  'Tara',
] as const;
export const LAST_NAMES = [
  'Smith',
  'Novak',
  'Garcia',
  'Okafor',
  'Schmidt',
  'Tanaka',
  'Rossi',
  'Dubois',
  'Kowalski',
  'Haddad',
  'Larsen',
  'Moreau',
  'Silva',
  'Yilmaz',
  'Berg',
] as const;
export const EMAIL_DOMAINS = ['example.com', 'example.org', 'mail.example.net', 'corp.example'] as const;

const PROJECT_WORDS = [
  'Apollo',
  'Beacon',
  'Cobalt',
  'Delta',
  'Ember',
  'Falcon',
  'Granite',
  'Harbor',
  'Iris',
  'Juniper',
  'Kestrel',
  'Lumen',
] as const;
const PROJECT_NOUNS = [
  'Migration',
  'Redesign',
  'Launch',
  'Onboarding',
  'Analytics',
  'Billing',
  'Search',
  'Mobile App',
  'Data Platform',
  'Rollout',
] as const;

/** Unique per project slot, so a task's `projectName` names exactly one project. */
export function projectNameOf(slot: number): string {
  const word = PROJECT_WORDS[slot % PROJECT_WORDS.length] as string;
  const rest = Math.floor(slot / PROJECT_WORDS.length);
  const noun = PROJECT_NOUNS[rest % PROJECT_NOUNS.length] as string;
  const generation = Math.floor(rest / PROJECT_NOUNS.length);
  return generation === 0 ? `${word} ${noun}` : `${word} ${noun} ${generation + 1}`;
}

export const PROJECT_STATUSES = ['planning', 'active', 'active', 'on_hold', 'completed'] as const;
export const TASK_STATUSES = ['todo', 'in_progress', 'in_progress', 'review', 'done', 'blocked'] as const;
export const PRIORITIES = ['low', 'medium', 'medium', 'high', 'urgent'] as const;
export const SOURCES = ['chat', 'chat', 'api', 'import', 'mcp', 'web'] as const;
export const RELATION_TYPES = [
  'related_to',
  'related_to',
  'references',
  'follows',
  'depends_on',
  'similar_to',
  'mentions',
] as const;

const TASK_VERBS = [
  'Write',
  'Review',
  'Fix',
  'Prepare',
  'Migrate',
  'Test',
  'Document',
  'Deploy',
  'Design',
  'Estimate',
] as const;
const TASK_OBJECTS = [
  'the API contract',
  'the release notes',
  'login flow',
  'billing report',
  'staging database',
  'onboarding emails',
  'dashboard filters',
  'load tests',
  'the budget sheet',
  'the retro notes',
] as const;

export function taskTitle(random: RowRandom): string {
  return `${random.pick(TASK_VERBS)} ${random.pick(TASK_OBJECTS)}`;
}

function person(random: RowRandom): string {
  return random.pick(FIRST_NAMES);
}

function day(random: RowRandom): string {
  return `${1 + random.int(28)}.${1 + random.int(12)}.`;
}

type ContentTemplate = (random: RowRandom) => string;

/** Texts whose words alone decide their module (the content rule's evidence). */
export const CONTENT_TEMPLATES: Record<ModuleId, readonly ContentTemplate[]> = {
  work: [
    (r) =>
      `Quarterly planning meeting with ${person(r)}: we agreed to ship the onboarding flow by the deadline; action items for the team are in the tracker.`,
    (r) =>
      `Client call: the stakeholder wants the budget revised before ${day(r)} Escalate to the project manager if the milestone slips.`,
    (r) =>
      `Performance review notes for ${person(r)} with the manager — strong ownership of the sprint goals; set the OKR for next quarter.`,
  ],
  personal: [
    (r) => `Mum's birthday is on the ${1 + r.int(28)}th — buy flowers and call her in the evening.`,
    (r) => `Ran ${3 + r.int(10)} km this morning with ${person(r)}, felt great. Knee is fine again.`,
    (r) => `Dentist appointment next Tuesday at ${8 + r.int(9)}:30, then pick up the kids from school.`,
    (r) =>
      `Dinner with ${person(r)} and the family at our favourite place; planning the summer holiday together.`,
  ],
  technical: [
    (r) =>
      `\`\`\`ts\nfunction parse${r.pick(['Config', 'Header', 'Token'])}(input: string) {\n  const value = JSON.parse(input);\n  return value ?? null;\n}\n\`\`\`\nFixed the null check in the parser.`,
    (r) =>
      `TypeError: Cannot read properties of undefined (reading 'map')\n    at render (app.js:${10 + r.int(400)}:12)\nThe API returned an empty body; added a guard.`,
    (r) =>
      `SELECT id, name FROM users WHERE created_at > now() - interval '${1 + r.int(30)} days' ORDER BY id; -- the postgres plan needs an index on created_at`,
    (r) =>
      `docker compose up fails with exit code 137 on the ${r.pick(['worker', 'api', 'db'])} container: raise the memory limit, rebuild the image and deploy again.`,
    (r) =>
      `const res = await fetch(url, { method: 'POST' });\nif (!res.ok) throw new Error(\`HTTP \${res.status}\`); // retry on 503, ${r.int(5)} attempts`,
  ],
  learning: [
    (r) =>
      `Lecture notes, week ${1 + r.int(12)}: the chain rule says the derivative of f(g(x)) is f'(g(x))·g'(x). Practice exercises 3–7 before the exam.`,
    (r) =>
      `Today I learned that B-tree indexes keep keys sorted, which is why range queries are cheap. Chapter ${1 + r.int(12)} of the textbook explains it.`,
    (r) =>
      `Course module ${1 + r.int(9)} quiz: understand the difference between supervised and unsupervised learning; study the lesson summary again.`,
    (r) =>
      `Reading "Designing Data-Intensive Applications", chapter ${1 + r.int(12)}: replication lag and read-your-writes. Key concept to review.`,
  ],
  communication: [
    (r) =>
      `Subject: ${r.pick(['Invoice', 'Q3 budget', 'Release plan', 'Contract renewal'])} follow-up\n\nHi ${person(r)},\n\nthanks for your message. Please find the details attached and reply by Friday.\n\nRegards,\n${person(r)}`,
    (r) =>
      `Slack thread with @${person(r).toLowerCase()} about the outage: they will email the customer and post an update in #incidents.`,
    (r) =>
      `Dear ${person(r)},\n\nas discussed on the phone call, I forwarded the summary by email. Best regards`,
    (r) =>
      `Voicemail from ${person(r)}: call back about the delivery; send a text message or reply in the Slack thread if the line is busy.`,
  ],
  creative: [
    (r) =>
      `Poem draft, second verse: the river hums beneath the ${r.pick(['winter', 'autumn', 'silver'])} light, / and every stone remembers rain.`,
    (r) =>
      `Story idea: a lighthouse keeper who receives letters from ${r.pick(['the future', 'a ghost', 'her younger self'])}. Plot twist in chapter two.`,
    (r) =>
      `Chord progression for the new song: Am – F – C – G, capo ${1 + r.int(5)}; the chorus melody needs a lift.`,
    (r) =>
      `Sketch concept: watercolour of the harbour at dusk, muted palette, lots of negative space. Inspiration from ${person(r)}'s photos.`,
  ],
};

/** Texts with no module signal at all. */
export const NEUTRAL_TEXTS = [
  'Remember this.',
  'Check later',
  'ok',
  'Interesting.',
  'See attached.',
  'Thoughts from today',
  'Follow up on this next week.',
  'Not sure about this one yet.',
] as const;

/** Weak words of two modules at once: no rule can be sure. */
export const CONFLICTING_TEXTS = [
  'Wrote a short poem about debugging the build with my family watching.',
  'The course project deadline is next week; also need to email the landlord.',
  'Sketched the API architecture on a napkin during the birthday dinner.',
  'Studied the meeting recording while cooking dinner.',
] as const;
