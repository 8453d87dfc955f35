/** Tests wait on conditions with deadlines through the project's one helper. */
export * from '../../scripts/support/wait.js';
