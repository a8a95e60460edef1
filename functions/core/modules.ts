/**
 * Which Federated Memory modules a target has. The target's `memory_modules` registry decides
 * (older installs register six, newer ones add `project-management` and `church`); each module
 * keeps its memories in the table its configuration names, `<moduleId>_memories` by default.
 */
import { InvalidInputError } from '../errors.js';

/** The six modules of the guide's mapping table: the default rules route to these only. */
export const DEFAULT_MODULE_IDS = ['work', 'personal', 'technical', 'learning', 'communication', 'creative'];

export interface TargetModule {
  /** `memory_modules."moduleId"`, written to the CMI's `moduleId` and to relationships. */
  id: string;
  /** The module's table in the target's schema (unquoted name). */
  table: string;
}

/** `<moduleId>_memories` with any character outside [a-z0-9_] as `_` (project-management → project_management). */
export function defaultModuleTable(moduleId: string): string {
  return `${moduleId.toLowerCase().replace(/[^a-z0-9_]/g, '_')}_memories`;
}

/** The name a rules file may also use for a module: its table without `_memories`. */
function tableStem(table: string): string {
  return table.endsWith('_memories') ? table.slice(0, -'_memories'.length) : table;
}

/** The guide's six first (in the guide's order), then any others by id: one order everywhere. */
export function inModuleOrder(ids: Iterable<string>): string[] {
  const rank = (id: string) => {
    const i = DEFAULT_MODULE_IDS.indexOf(id);
    return i === -1 ? DEFAULT_MODULE_IDS.length : i;
  };
  return [...ids].sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * The target's modules, in a fixed order (the guide's six first, then the rest by id), so that
 * anything iterating them (reports, tie-breaks) does not depend on the registry's row order.
 */
export class ModuleRegistry {
  readonly modules: readonly TargetModule[];
  private readonly byName = new Map<string, TargetModule>();

  constructor(modules: readonly TargetModule[]) {
    const order = inModuleOrder(modules.map((m) => m.id));
    this.modules = [...modules].sort((a, b) => order.indexOf(a.id) - order.indexOf(b.id));
    for (const module of this.modules) this.byName.set(module.id, module);
    // Aliases never shadow a real id: a module named like another's table stem keeps its own name.
    for (const module of this.modules) {
      const stem = tableStem(module.table);
      if (!this.byName.has(stem)) this.byName.set(stem, module);
    }
  }

  get ids(): string[] {
    return this.modules.map((m) => m.id);
  }

  has(id: string): boolean {
    return this.modules.some((m) => m.id === id);
  }

  /** The module a rules file means by `name`: its id, or its table's stem (`project_management`). */
  resolve(name: string): TargetModule | undefined {
    return this.byName.get(name);
  }

  /** The table of a registered module; an unknown id is a programming error upstream. */
  tableOf(id: string): string {
    const module = this.modules.find((m) => m.id === id);
    if (!module) {
      throw new InvalidInputError(`Module "${id}" is not registered in the target's memory_modules`, {
        context: { module: id, registered: this.ids },
      });
    }
    return module.table;
  }
}

/** The registry of an install that has exactly the guide's six modules: tests and fixtures' shape. */
export function defaultModuleRegistry(): ModuleRegistry {
  return new ModuleRegistry(DEFAULT_MODULE_IDS.map((id) => ({ id, table: defaultModuleTable(id) })));
}
