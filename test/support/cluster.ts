/** Tests start standalone clusters through the scripts' helper. */
export * from '../../scripts/support/standalone-cluster.js';
