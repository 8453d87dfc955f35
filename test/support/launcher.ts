/** Tests start processes through the project's one launcher. */
export * from '../../scripts/support/launcher.js';
