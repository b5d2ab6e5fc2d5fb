// Prints the settings table for README.md: `tsx settings/printTable.ts`.
import { settingsTable } from './table';

console.log(settingsTable());
