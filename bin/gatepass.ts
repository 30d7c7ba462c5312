#!/usr/bin/env -S node --import tsx
import { runCli } from './commands/program.ts';

// `dev` keeps running (its servers hold the process open); every other command ends here.
const code = await runCli(process.argv, {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  env: process.env,
});
if (code !== 0) process.exit(code);
