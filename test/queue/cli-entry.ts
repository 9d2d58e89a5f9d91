// The robustest CLI from the sources (run through tsx), for queue tests whose worker processes cannot use dist/
// because it is not a build of the current sources.
import { main } from '../../src/cli/main.js';

process.exitCode = await main(process.argv.slice(2));
