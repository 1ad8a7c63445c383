import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import svelte from 'eslint-plugin-svelte';
import globals from 'globals';
import ts from 'typescript-eslint';
import svelteConfig from './svelte.config.js';

/** Dependencies point one way: routes and cli -> services -> repositories, io, inference -> core. */
const onnxOnlyInOnnxTs = {
  name: 'onnxruntime-node',
  message: 'Only src/lib/server/inference/onnx.ts imports onnxruntime-node.',
};
// A later matching block replaces an earlier one's options for the same rule, so every block repeats the
// ONNX restriction beside its own patterns.
/**
 * @param {string[]} files
 * @param {Array<{ group: string[]; message: string }>} patterns
 * @returns {import('eslint').Linter.Config}
 */
const layer = (files, patterns) => ({
  files,
  ignores: ['src/lib/server/inference/onnx.ts'],
  rules: { 'no-restricted-imports': ['error', { paths: [onnxOnlyInOnnxTs], patterns }] },
});

const noKysely = { group: ['kysely', 'pg'], message: 'Only repositories and db/ talk to the database.' };
const noRepositories = {
  group: ['**/repositories/*', '$lib/server/repositories/*'],
  message: 'Call a service; only services use repositories.',
};

export default ts.config(
  {
    ignores: ['build/', '.svelte-kit/', 'node_modules/', '.contourbench/', 'coverage/', 'static/'],
  },
  js.configs.recommended,
  ...ts.configs.recommended,
  ...svelte.configs.recommended,
  prettier,
  ...svelte.configs.prettier,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'error',
    },
  },
  {
    files: ['**/*.svelte', '**/*.svelte.ts'],
    languageOptions: {
      globals: { ...globals.browser },
      parserOptions: {
        projectService: true,
        extraFileExtensions: ['.svelte'],
        parser: ts.parser,
        svelteConfig,
      },
    },
  },
  layer(['src/**/*.ts', 'src/**/*.svelte'], []),
  layer(
    ['src/lib/core/**'],
    [
      { group: ['node:*'], message: 'core is pure TypeScript: no node:* modules.' },
      {
        group: ['**/server/*', '**/server/**', '$lib/server/*'],
        message: 'core imports nothing from server.',
      },
      noKysely,
    ],
  ),
  layer(['src/lib/server/services/**'], [noKysely]),
  layer(['src/routes/**', 'src/cli/**', 'src/lib/server/api/**'], [noKysely, noRepositories]),
  layer(
    ['src/lib/charts/**', 'src/lib/components/**'],
    [
      {
        group: ['**/server/*', '**/server/**', '$lib/server/*'],
        message: 'UI code never imports server code.',
      },
      { group: ['d3'], message: 'Import d3 submodules (d3-scale, d3-shape, ...), not the umbrella.' },
      { group: ['d3-selection'], message: 'Svelte renders the elements; d3 only computes.' },
    ],
  ),
);
