import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules', '.tools', '.wrangler', 'dist', 'worker-configuration.d.ts', 'db/migrations'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        project: ['./tsconfig.json', './src/tsconfig.json', './tsconfig.node.json'],
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  { files: ['**/*.js'], ...tseslint.configs.disableTypeChecked },
  {
    // vitest's asymmetric matchers (expect.any, expect.stringContaining) are typed `any` by design.
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-unsafe-assignment': 'off' },
  },
  {
    // The domain core stays portable and unit-testable in plain Node.
    files: ['src/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['cloudflare:*', '@cloudflare/*'],
              message: 'src/ is platform-free: adapt it in workers/ or durable-objects/.',
            },
            { group: ['hono', 'hono/*', '@hono/*'], message: 'src/ knows no HTTP framework: only workers/ does.' },
            { group: ['drizzle-orm', 'drizzle-orm/*'], message: 'src/ knows no database: only db/ does.' },
            // A module in a subfolder (src/mastodon/) may import src/'s own modules one level up.
            {
              group: ['node:*', '../*', '!../*.ts', '../../*'],
              message: 'src/ imports only itself and portable libraries.',
            },
          ],
        },
      ],
    },
  },
);
