import { parseConfig, type Config } from '../config/index.js';

export const DEMO_NAME = 'demo-shop-to-atlas';

/** The demo's migration.yaml: what a user would commit, with the URIs from the environment. */
export function demoYaml(tailSeconds: number): string {
  return `# migration.yaml of the demo (the URIs come from the environment, never from the file)
version: 1
name: ${DEMO_NAME}
source:
  uri: \${DEMO_SOURCE_URI}
destination:
  uri: \${DEMO_DESTINATION_URI}
namespaces:
  include: ["shop.*", "crm.*", "analytics.*"]
  rename:
    crm: crm_atlas                 # the whole crm database lands as crm_atlas
    analytics.audit_log: analytics.audit_trail
sync:
  parallelCollections: 2           # this machine has two cores, shared with both mongods
  partitionSizeMB: 8               # so that the larger collections are copied in several _id ranges
tail:
  maxDuration: ${tailSeconds}s
cutover:
  maxLagSeconds: 5
  lagHoldSeconds: 2
  writeBlock: source
  verify: hash
report:
  pullRequestComment: false
`;
}

export function demoConfig(sourceUri: string, destinationUri: string, tailSeconds: number): Config {
  return parseConfig(demoYaml(tailSeconds), 'migration.yaml', { env: { DEMO_SOURCE_URI: sourceUri, DEMO_DESTINATION_URI: destinationUri } });
}
