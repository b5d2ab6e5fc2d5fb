// Every workflow type the orchestrator worker registers.
export { checkStack } from './checkStack';
