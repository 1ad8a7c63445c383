import { type Kysely, sql } from 'kysely';

// Frozen in time: this file never imports application code.
// Sign-in sessions, API tokens and sign-in attempts. Sessions and tokens are kept only as sha256 digests
// of the secret the browser or script holds, so a copy of the database cannot be used to sign in.

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    alter table app_user
      add column password_changed_at timestamptz,
      add column oidc_subject text;
    create unique index app_user_oidc_subject_key on app_user (oidc_subject) where oidc_subject is not null;

    create table user_session (
      token_sha256 text primary key check (token_sha256 ~ '^[0-9a-f]{64}$'),
      user_id bigint not null references app_user (id) on delete cascade,
      created_at timestamptz not null default now(),
      last_seen_at timestamptz not null default now(),
      expires_at timestamptz not null,
      ip_address inet,
      user_agent text
    );
    create index user_session_user_idx on user_session (user_id);
    create index user_session_expires_idx on user_session (expires_at);

    create table api_token (
      id bigint generated always as identity primary key,
      user_id bigint not null references app_user (id) on delete cascade,
      name text not null check (length(name) between 1 and 200),
      token_sha256 text not null unique check (token_sha256 ~ '^[0-9a-f]{64}$'),
      -- the first characters of the token, so that its holder can recognise it in a list
      prefix text not null,
      created_at timestamptz not null default now(),
      expires_at timestamptz,
      last_used_at timestamptz,
      revoked_at timestamptz
    );
    create index api_token_user_idx on api_token (user_id);

    create table login_attempt (
      id bigint generated always as identity primary key,
      attempted_at timestamptz not null default now(),
      email text not null,
      ip_address inet,
      succeeded boolean not null
    );
    create index login_attempt_email_idx on login_attempt (lower(email), attempted_at desc);
    create index login_attempt_ip_idx on login_attempt (ip_address, attempted_at desc);
  `.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`
    drop table login_attempt;
    drop table api_token;
    drop table user_session;
    drop index app_user_oidc_subject_key;
    alter table app_user drop column oidc_subject, drop column password_changed_at;
  `.execute(db);
}
