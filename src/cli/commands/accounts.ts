import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import { z } from 'zod';
import { AppError } from '../../lib/core/errors';
import {
  apiTokens,
  createApiToken,
  createUser,
  revokeToken,
  setPassword,
  updateAccess,
  users,
} from '../../lib/server/services/account.service';
import { auditTrail } from '../../lib/server/services/audit.service';
import { cliActor, withCliDatabase } from '../lifecycle';
import { collect, parseOption, positiveInteger, textTable } from '../options';

/** A password from standard input (first line), or a new random one printed once. */
async function passwordOf(fromStdin: boolean | undefined): Promise<{ password: string; generated: boolean }> {
  if (!fromStdin) return { password: randomBytes(18).toString('base64url'), generated: true };
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const password = Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0];
  if (!password) throw new AppError('INVALID_ARGUMENT', '--password-stdin: standard input holds no password');
  return { password, generated: false };
}

export function registerAccounts(program: Command): void {
  const user = program.command('user').description('user accounts, roles and site access');
  user
    .command('create')
    .description('create a user; prints a new password unless --password-stdin gives one')
    .requiredOption('--email <email>', 'sign-in email')
    .requiredOption('--role <role>', 'admin, physicist, physician or auditor')
    .option('--site <code>', 'site the user is bound to (repeatable; physicians need one)', collect)
    .option('--name <name>', 'display name')
    .option('--password-stdin', 'read the password from the first line of standard input')
    .action(
      async (options: {
        email: string;
        role: string;
        site?: string[];
        name?: string;
        passwordStdin?: boolean;
      }) => {
        const { password, generated } = await passwordOf(options.passwordStdin);
        await withCliDatabase('user', async (db) => {
          const created = await createUser(
            db,
            {
              email: options.email,
              role: options.role,
              sites: options.site,
              displayName: options.name,
              password,
            },
            cliActor(),
          );
          const where = created.siteCodes.length ? ` at ${created.siteCodes.join(', ')}` : '';
          process.stdout.write(`User ${created.email} created: ${created.role}${where}\n`);
          if (generated)
            process.stdout.write(`Password (shown once; change it after signing in): ${password}\n`);
        });
      },
    );
  user
    .command('list')
    .description('every user with role, sites and last sign-in')
    .action(async () => {
      await withCliDatabase('user', async (db) => {
        const rows = await users(db);
        process.stdout.write(
          textTable([
            ['email', 'role', 'sites', 'active', 'last sign-in'],
            ...rows.map((u) => [
              u.email,
              u.role,
              u.siteCodes.join(',') || '(all)',
              u.isActive ? 'yes' : 'no',
              u.lastLoginAt?.toISOString() ?? '-',
            ]),
          ]),
        );
      });
    });
  user
    .command('set')
    .description("change a user's role, sites or active state (ends their sessions)")
    .requiredOption('--email <email>', 'the user')
    .option('--role <role>', 'new role')
    .option('--site <code>', 'replace the site grants (repeatable)', collect)
    .option('--no-site', 'remove every site grant')
    .option('--active <yes|no>', 'activate or deactivate the account')
    .action(async (options: { email: string; role?: string; site?: string[] | false; active?: string }) => {
      const active =
        options.active === undefined
          ? undefined
          : parseOption(
              z.enum(['yes', 'no'], { error: 'expected yes or no' }),
              '--active',
              options.active,
            ) === 'yes';
      const sites = options.site === false ? [] : options.site;
      await withCliDatabase('user', async (db) => {
        const after = await updateAccess(
          db,
          options.email,
          { role: options.role, sites, active },
          cliActor(),
        );
        process.stdout.write(
          `${after.email}: ${after.role}, sites ${after.siteCodes.join(', ') || '(all)'}, ${after.isActive ? 'active' : 'deactivated'}\n`,
        );
      });
    });
  user
    .command('password')
    .description(
      "set a user's password (prints a new one unless --password-stdin gives one); ends their sessions",
    )
    .requiredOption('--email <email>', 'the user')
    .option('--password-stdin', 'read the password from the first line of standard input')
    .action(async (options: { email: string; passwordStdin?: boolean }) => {
      const { password, generated } = await passwordOf(options.passwordStdin);
      await withCliDatabase('user', async (db) => {
        await setPassword(db, options.email, password, cliActor());
        process.stdout.write(`Password of ${options.email} set\n`);
        if (generated) process.stdout.write(`Password (shown once): ${password}\n`);
      });
    });

  const token = program.command('token').description('API tokens for scripts (Authorization: Bearer)');
  token
    .command('create')
    .description('create a token acting as the user; prints it once')
    .requiredOption('--user <email>', 'the user the token acts as (with their role and sites)')
    .option('--name <name>', 'what the token is for', 'script')
    .option('--expires-days <days>', 'expire after this many days (default: never)')
    .action(async (options: { user: string; name: string; expiresDays?: string }) => {
      const days =
        options.expiresDays === undefined
          ? undefined
          : parseOption(positiveInteger(3650), '--expires-days', options.expiresDays);
      await withCliDatabase('token', async (db) => {
        const created = await createApiToken(
          db,
          { email: options.user, name: options.name, expiresInDays: days },
          cliActor(),
        );
        process.stderr.write(
          `Token ${created.id} for ${created.user.email} (${created.user.role})` +
            `${created.expiresAt ? `, expires ${created.expiresAt.toISOString()}` : ''}; shown once:\n`,
        );
        process.stdout.write(`${created.token}\n`);
      });
    });
  token
    .command('list')
    .description('tokens (never their secret), optionally of one user')
    .option('--user <email>', 'only this user')
    .action(async (options: { user?: string }) => {
      await withCliDatabase('token', async (db) => {
        const rows = await apiTokens(db, options.user);
        const state = (t: (typeof rows)[number]) =>
          t.revokedAt ? 'revoked' : t.expiresAt && t.expiresAt < new Date() ? 'expired' : 'active';
        process.stdout.write(
          textTable([
            ['id', 'user', 'name', 'starts', 'state', 'last used'],
            ...rows.map((t) => [
              String(t.id),
              t.userEmail,
              t.name,
              `${t.prefix}…`,
              state(t),
              t.lastUsedAt?.toISOString() ?? '-',
            ]),
          ]),
        );
      });
    });
  token
    .command('revoke')
    .description('revoke a token at once')
    .argument('<id>', 'token id (see token list)')
    .action(async (id: string) => {
      const tokenId = parseOption(positiveInteger(Number.MAX_SAFE_INTEGER), 'token id', id);
      await withCliDatabase('token', async (db) => {
        await revokeToken(db, tokenId, cliActor());
        process.stdout.write(`token ${tokenId} revoked\n`);
      });
    });

  program
    .command('audit')
    .description('the audit trail, newest first')
    .option('--action <prefix>', 'only actions starting with this, e.g. user. or case.view')
    .option('--user <email>', 'only this user')
    .option('--limit <n>', 'at most this many events', '50')
    .option('--json', 'one JSON object per line')
    .action(async (options: { action?: string; user?: string; limit: string; json?: boolean }) => {
      const limit = parseOption(positiveInteger(100_000), '--limit', options.limit);
      await withCliDatabase('audit', async (db) => {
        const events = await auditTrail(db, { action: options.action, userEmail: options.user, limit });
        if (options.json) {
          for (const e of events) process.stdout.write(`${JSON.stringify(e)}\n`);
          return;
        }
        process.stdout.write(
          textTable([
            ['id', 'when', 'user', 'action', 'object', 'site', 'address'],
            ...events.map((e) => [
              String(e.id),
              e.occurredAt.toISOString(),
              e.userEmail ?? String(e.details.actor ?? '-'),
              e.action,
              `${e.objectType}${e.objectId ? ` ${e.objectId}` : ''}`,
              e.siteCode ?? '-',
              e.ip ?? '-',
            ]),
          ]),
        );
      });
    });
}
