export { parseInput } from '../../lib/parseInput';
