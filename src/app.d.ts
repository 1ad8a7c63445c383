// See https://svelte.dev/docs/kit/types#app.d.ts
import type { Principal } from '$lib/server/services/account.service';

declare global {
  namespace App {
    interface Error {
      message: string;
      code?: string;
    }
    interface Locals {
      /** The signed-in user or token holder; null when anonymous. */
      principal: Principal | null;
      /** The session secret from the cookie, when signed in by session. */
      sessionToken: string | null;
    }
  }
}

export {};
