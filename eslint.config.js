// @ts-check
import js from "@eslint/js";
import tseslint from "typescript-eslint";
import convexPlugin from "@convex-dev/eslint-plugin";

export default tseslint.config(
  { ignores: ["node_modules/", "convex/_generated/", ".rehearsal/", "bin/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  ...convexPlugin.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
    },
  },
  {
    // Mutations come from headers/functions.ts, whose ctx.db keeps the exam headers current.
    files: ["convex/**/*.ts"],
    ignores: ["convex/headers/functions.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            {
              group: ["**/_generated/server"],
              importNames: ["mutation", "internalMutation"],
              message: "Import mutation builders from convex/headers/functions.ts: its ctx.db keeps the exam headers current.",
            },
          ],
        },
      ],
    },
  },
);
