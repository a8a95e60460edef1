import type { TestProject } from 'vitest/node';
import { startTestServices } from './services-runtime.js';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const { stop, ...services } = await startTestServices();
  project.provide('services', services);
  return stop;
}
