// Durations in minutes become Temporal durations ("90m"): a number the SDK cannot format that way
// (Infinity, 1e-7, 1e21) would fail deep in the engine, so the schema keeps them in a sane range.
import { z } from 'zod';

const minMinutes = 0.001;

export const Minutes = (max: number, maxText: string) =>
  z
    .number()
    .finite('a finite number of minutes')
    .min(minMinutes, `at least ${minMinutes} minutes`)
    .max(max, `at most ${maxText}`);

export const week = 7 * 24 * 60;
