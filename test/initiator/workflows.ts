// The workflows a validateInitiators test worker registers.
export { validateInitiators } from '../../workflows/validateInitiators';
export { validateInitiatorBatch } from '../../workflows/validateInitiatorBatch';
