#!/usr/bin/env node
// The CLI is bundled into dist/cli.js by `npm run build` (and committed), so it runs without a build step.
import '../dist/cli.js';
