//! The `scimd` command line: serve, migrate, accounts and tokens, and what operators expect of
//! a command: `--version` with the build, completions, a man page, an example in every `--help`.
//!
//! Why one file of over 1,000 lines: it is the clap definition of every command with its help
//! text and examples (about half of it) and a thin handler per command that calls `server`,
//! `service` or `store`; no logic lives here, and splitting it would scatter the one place a
//! reader looks up what a command does.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::str::FromStr;
use std::time::Duration;

use clap::{CommandFactory, Parser, Subcommand};
use serde_json::json;
use uuid::Uuid;

use crate::config::{Config, LogFormat, UnknownVariable, parse_ttl};
use crate::redact::redact;
use crate::server::{self, App, StartError};
use crate::service::export::{Comparison, Export, compare};
use crate::service::{Bootstrap, Caller, Idp, IssuedToken, TokenKind};
use crate::store::{self, Backend};
use crate::telemetry;

/// `scimd --version`: the version, the git commit it was built from (`unknown` outside a git
/// checkout) and the build date (build.rs).
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("GIT_COMMIT_SHORT"),
    ", built ",
    env!("BUILD_DATE_UTC"),
    ")"
);

#[derive(Debug, Parser)]
#[command(
    name = "scimd",
    version = VERSION,
    about = "A multi-tenant SCIM 2.0 service provider",
    after_help = "Examples:
  scimd serve --bootstrap                      # first start: an account and its tokens, printed once
  scimd token create --account ID --idp okta   # a SCIM token for an IdP
  scimd account list

Settings: built-in defaults < --config FILE (or SCIMD_CONFIG) < SCIMD_<KEY> < DATABASE_URL;
`scimd config` shows them. Manual: `scimd man | man -l -`."
)]
pub struct Cli {
    /// Configuration file (TOML); overrides the built-in defaults, is overridden by SCIMD_* variables.
    #[arg(long, global = true, env = "SCIMD_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Print results as JSON (for scripts).
    #[arg(long, global = true)]
    json: bool,
    /// Print only the essential value: the account id, or the token (for shell variables).
    #[arg(long, short, global = true, conflicts_with = "json")]
    quiet: bool,
    /// Who the audit log records for this command (default: the login name, $USER).
    #[arg(long, global = true)]
    operator: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server (creates the database if needed and applies pending migrations first).
    #[command(after_help = "Examples:
  scimd serve --bootstrap
  scimd serve --listen 0.0.0.0:8080
  SCIMD_CONFIG=/etc/scimd.toml DATABASE_URL=postgres://scimd@db/scimd scimd serve")]
    Serve {
        /// Address to listen on, overriding the configuration (e.g. 127.0.0.1:8080).
        #[arg(long)]
        listen: Option<String>,
        /// On a database without accounts, create one with a SCIM token and an admin token and
        /// print them (once). Does nothing when an account exists.
        #[arg(long)]
        bootstrap: bool,
    },
    /// Exit 0 if the server answers /readyz (for container health checks); needs no database.
    #[command(after_help = "Example:
  scimd healthcheck --url http://127.0.0.1:8080 || echo not ready")]
    Healthcheck {
        /// The server's origin; by default the configured listen address.
        #[arg(long)]
        url: Option<String>,
    },
    /// Create the database if needed, apply pending migrations and exit.
    #[command(after_help = "Examples:
  scimd migrate                                          # sqlite://scimd.db here
  DATABASE_URL=postgres://scimd@db:5432/scimd scimd migrate")]
    Migrate,
    /// Manage accounts (tenants).
    #[command(after_help = "Examples:
  scimd account create --name Acme
  scimd --json account list")]
    Account {
        #[command(subcommand)]
        command: AccountCommand,
    },
    /// Manage SCIM and admin tokens.
    #[command(after_help = "Examples:
  scimd token create --account ID --kind scim --idp entra
  scimd token list --account ID
  scimd token rotate --account ID --token TOKEN_ID")]
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Export an account's users, groups, memberships and role bindings (before a migration).
    #[command(after_help = "Examples:
  scimd export --account ID --output before.json
  scimd export --account ID --format csv > before.csv")]
    Export {
        #[arg(long)]
        account: Uuid,
        /// json (default) or csv.
        #[arg(long, default_value = "json")]
        format: String,
        /// Write to this file instead of standard output.
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// Compare two exports (JSON or CSV): users missing, duplicates, memberships and role
    /// bindings lost. Exits with status 1 when anything was lost or duplicated.
    #[command(after_help = "Example:
  scimd compare before.json after.json && echo nothing lost")]
    Compare { before: PathBuf, after: PathBuf },
    /// Copy the whole SQLite database (accounts, tokens and signing secret, users, groups,
    /// memberships, role bindings, settings, audit log) into a new Postgres database, in one
    /// transaction, verified. Stop the server first; then point database_url at Postgres.
    #[command(after_help = "Example:
  scimd copy --to postgres://scimd:PASSWORD@db.example.com/scimd")]
    Copy {
        /// The target Postgres database (created and migrated if needed; it must have no account).
        #[arg(long)]
        to: String,
    },
    /// Back up the SQLite database into a new file, while the server runs and writes: a
    /// consistent copy, verified and written 0600. (Postgres: use pg_dump; see docs/operations.md.)
    #[command(after_help = "Example:
  scimd backup --to /backups/scimd-$(date +%F).db")]
    Backup {
        /// The new file to write (it must not exist).
        #[arg(long)]
        to: PathBuf,
    },
    /// Replace the SQLite database with a backup (verified first). The server must be stopped;
    /// start it again afterwards (it applies any newer migrations).
    #[command(after_help = "Example:
  systemctl stop scimd && scimd restore --from /backups/scimd-2026-12-01.db && systemctl start scimd")]
    Restore {
        /// The backup file, as `scimd backup` wrote it.
        #[arg(long)]
        from: PathBuf,
    },
    /// Operator actions on users (the IdP-managed lock of the admin API does not bind --force).
    #[command(after_help = "Example:
  scimd user delete --account ID --user USER_ID --force --operator alice")]
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Operator actions on groups.
    #[command(after_help = "Example:
  scimd group delete --account ID --group GROUP_ID --force --operator alice")]
    Group {
        #[command(subcommand)]
        command: GroupCommand,
    },
    /// Manage an account's extension schemas (RFC 7643 §7): what IdPs' custom attributes are
    /// declared as, advertised in /Schemas, validated and filterable.
    #[command(after_help = "Examples:
  scimd schema add --account ID --resource-type User --file costcenter.json
  scimd schema list --account ID
  scimd schema remove --account ID --urn urn:ietf:params:scim:schemas:extension:acme:2.0:User --force")]
    Schema {
        #[command(subcommand)]
        command: SchemaCommand,
    },
    /// Manage an account's OAuth clients: an IdP exchanges a client's id and secret at the
    /// account's token endpoint for SCIM tokens that last an hour (RFC 6749 client credentials;
    /// docs/idp-setup.md).
    #[command(after_help = "Examples:
  scimd oauth-client create --account ID --idp entra
  scimd oauth-client list --account ID
  scimd oauth-client revoke --account ID --client CLIENT_ID")]
    OauthClient {
        #[command(subcommand)]
        command: OAuthClientCommand,
    },
    /// Manage an account's webhook endpoints: its change feed POSTed to a URL, signed per
    /// Standard Webhooks (docs/events.md).
    #[command(after_help = "Examples:
  scimd webhook create --account ID --url https://app.example.com/scim-events
  scimd webhook create --account ID --url https://app.example.com/hook --types user.deactivated,user.deleted
  scimd webhook list --account ID
  scimd webhook delete --account ID --webhook WEBHOOK_ID")]
    Webhook {
        #[command(subcommand)]
        command: WebhookCommand,
    },
    /// Show the effective settings and where each comes from (default, file, SCIMD_<KEY>,
    /// DATABASE_URL); secrets are masked. Exits 1 on an invalid configuration.
    #[command(after_help = "Examples:
  scimd config
  SCIMD_LISTEN=0.0.0.0:8080 scimd --config /etc/scimd.toml --json config")]
    Config,
    /// Print a shell completion script.
    #[command(after_help = "Examples:
  scimd completions bash > /etc/bash_completion.d/scimd
  scimd completions zsh > \"${fpath[1]}/_scimd\"
  scimd completions fish > ~/.config/fish/completions/scimd.fish")]
    Completions {
        /// bash, zsh or fish (also elvish, powershell).
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff) of scimd, or of one of its commands.
    #[command(after_help = "Examples:
  scimd man | man -l -
  scimd man token create | man -l -
  scimd man > /usr/local/share/man/man1/scimd.1")]
    Man {
        /// A command, e.g. `token create`; none: the page of scimd itself.
        command: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
enum WebhookCommand {
    /// Register an endpoint and print its id and signing secret (shown once).
    #[command(after_help = "Example:
  scimd webhook create --account ID --url https://app.example.com/scim-events")]
    Create {
        #[arg(long)]
        account: Uuid,
        #[arg(long)]
        url: String,
        /// Comma-separated event types; none: every type.
        #[arg(long, value_delimiter = ',')]
        types: Option<Vec<String>>,
        #[arg(long)]
        description: Option<String>,
    },
    /// List the account's endpoints and where their delivery stands.
    #[command(after_help = "Example:
  scimd --json webhook list --account ID")]
    List {
        #[arg(long)]
        account: Uuid,
    },
    /// Delete an endpoint and its delivery log.
    #[command(after_help = "Example:
  scimd webhook delete --account ID --webhook WEBHOOK_ID")]
    Delete {
        #[arg(long)]
        account: Uuid,
        #[arg(long)]
        webhook: Uuid,
    },
}

#[derive(Debug, Subcommand)]
enum OAuthClientCommand {
    /// Register a client for an IdP and print its id, secret (shown once) and token endpoint.
    #[command(after_help = "Example:
  scimd oauth-client create --account ID --idp entra --description \"Entra provisioning\"")]
    Create {
        #[arg(long)]
        account: Uuid,
        /// okta, entra, onelogin or scim (any other client): the source of what it provisions.
        #[arg(long, value_parser = Idp::from_str)]
        idp: Idp,
        #[arg(long)]
        description: Option<String>,
        /// Lifetime of each access token in seconds (60 to 86400; default 3600).
        #[arg(long)]
        access_token_seconds: Option<i64>,
    },
    /// List the account's OAuth clients.
    #[command(after_help = "Example:
  scimd --json oauth-client list --account ID")]
    List {
        #[arg(long)]
        account: Uuid,
    },
    /// Revoke a client: it gets no more access tokens, and those it has stop working at once.
    #[command(after_help = "Example:
  scimd oauth-client revoke --account ID --client CLIENT_ID")]
    Revoke {
        #[arg(long)]
        account: Uuid,
        #[arg(long)]
        client: Uuid,
    },
}

#[derive(Debug, Subcommand)]
enum SchemaCommand {
    /// Declare an extension schema from a JSON file holding a SCIM Schema document (RFC 7643 §7:
    /// `id`, `name`, `attributes`).
    #[command(after_help = "Example:
  scimd schema add --account ID --resource-type User --file costcenter.json")]
    Add {
        #[arg(long)]
        account: Uuid,
        /// User or Group.
        #[arg(long, default_value = "User")]
        resource_type: String,
        /// The schema document; `-` reads standard input.
        #[arg(long)]
        file: PathBuf,
        /// Every write of the resource type must carry the extension.
        #[arg(long)]
        required: bool,
    },
    /// List the account's extension schemas.
    #[command(after_help = "Example:
  scimd --json schema list --account ID")]
    List {
        #[arg(long)]
        account: Uuid,
    },
    /// Remove an extension schema. When resources hold data under it, --force removes that
    /// data too; without it the command says how many would lose it and changes nothing.
    #[command(after_help = "Example:
  scimd schema remove --account ID --urn urn:ietf:params:scim:schemas:extension:acme:2.0:User")]
    Remove {
        #[arg(long)]
        account: Uuid,
        #[arg(long)]
        urn: String,
        #[arg(long)]
        force: bool,
    },
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Delete a user and its memberships. An IdP-managed user needs --force (audited).
    #[command(after_help = "Example:
  scimd user delete --account ID --user USER_ID")]
    Delete {
        #[arg(long)]
        account: Uuid,
        #[arg(long)]
        user: Uuid,
        /// Override the IdP-managed lock (R3), e.g. for an IdP that never deletes.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Debug, Subcommand)]
enum GroupCommand {
    /// Delete a group and its memberships (never its users). A group imported from SCIM needs
    /// --force (audited): seed 001's IdP that never deletes its groups.
    #[command(after_help = "Example:
  scimd group delete --account ID --group GROUP_ID --force")]
    Delete {
        #[arg(long)]
        account: Uuid,
        #[arg(long)]
        group: Uuid,
        #[arg(long)]
        force: bool,
    },
}

#[derive(Debug, Subcommand)]
enum AccountCommand {
    /// Create an account and print its id and SCIM base URL.
    #[command(after_help = "Examples:
  scimd account create --name Acme
  ACCOUNT_ID=$(scimd -q account create --name Acme)")]
    Create {
        #[arg(long)]
        name: String,
    },
    /// List accounts.
    #[command(after_help = "Example:
  scimd --json account list")]
    List,
    /// Make a single-use link that signs someone into the account's web console (/ui) once,
    /// without an admin token — for a customer's IT admin who sets up the identity provider.
    #[command(
        name = "setup-link",
        after_help = "Examples:
  scimd account setup-link --account ID
  scimd account setup-link --account ID --ttl 24h
  LINK=$(scimd -q account setup-link --account ID)"
    )]
    SetupLink {
        #[arg(long)]
        account: Uuid,
        /// How long the link can be used, e.g. 72h (the default, console_setup_link_hours), 30m;
        /// at most 30d.
        #[arg(long, value_parser = parse_ttl)]
        ttl: Option<Duration>,
    },
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Issue a token. Its secret is printed once and never stored.
    #[command(after_help = "Examples:
  scimd token create --account ID --kind scim --idp okta
  scimd token create --account ID --kind admin --ttl 90d --description \"deploy script\"
  SCIM_TOKEN=$(scimd -q token create --account ID --idp entra)")]
    Create {
        #[arg(long)]
        account: Uuid,
        /// scim (opens the account's SCIM API) or admin (opens its admin API).
        #[arg(long, default_value = "scim", value_parser = TokenKind::from_str)]
        kind: TokenKind,
        /// The identity provider that will use a SCIM token, which becomes the source of what
        /// it provisions: okta, entra, onelogin, or scim for any other client (the default).
        /// An admin token has none.
        #[arg(long, value_parser = Idp::from_str)]
        idp: Option<Idp>,
        /// Lifetime, e.g. 365d (the default), 90d, 12h.
        #[arg(long, value_parser = parse_ttl)]
        ttl: Option<Duration>,
        /// A note to recognise the token by later.
        #[arg(long)]
        description: Option<String>,
    },
    /// List an account's tokens (never their secrets).
    #[command(after_help = "Example:
  scimd token list --account ID")]
    List {
        #[arg(long)]
        account: Uuid,
    },
    /// Revoke a token at once.
    #[command(after_help = "Example:
  scimd token revoke --account ID --token TOKEN_ID")]
    Revoke {
        #[arg(long)]
        account: Uuid,
        /// The token id (as listed), not the token itself.
        #[arg(long)]
        token: Uuid,
    },
    /// Issue a replacement for a token and revoke the old one.
    #[command(after_help = "Example:
  scimd token rotate --account ID --token TOKEN_ID --ttl 90d")]
    Rotate {
        #[arg(long)]
        account: Uuid,
        #[arg(long)]
        token: Uuid,
        #[arg(long, value_parser = parse_ttl)]
        ttl: Option<Duration>,
    },
}

/// Runs the command line; the exit code is 0 on success, 1 on failure.
pub async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), String> {
    // Commands that need no configuration and no database.
    match &cli.command {
        Command::Compare { before, after } => return compare_files(before, after, cli.json),
        Command::Completions { shell } => {
            clap_complete::generate(*shell, &mut Cli::command(), "scimd", &mut std::io::stdout());
            return Ok(());
        }
        Command::Man { command } => return man_page(command),
        _ => {}
    }
    if let Command::Token {
        command:
            TokenCommand::Create {
                kind: TokenKind::Admin,
                idp: Some(idp),
                ..
            },
    } = &cli.command
    {
        return Err(format!(
            "an admin token has no IdP (it opens the admin API, and nothing it creates comes \
             from an IdP): drop --idp {idp}, or use --kind scim for a token the IdP uses"
        ));
    }
    let loaded = Config::load_verbose(cli.config.as_deref()).map_err(|e| e.to_string())?;
    let mut config = loaded.config;
    let output = if cli.json {
        Output::Json
    } else if cli.quiet {
        Output::Quiet
    } else {
        Output::Human
    };
    // `serve` logs them (its standard error is the log); every other command prints them.
    if !matches!(cli.command, Command::Serve { .. }) {
        for w in &loaded.warnings {
            eprintln!("warning: {w}");
        }
    }
    match cli.command {
        Command::Backup { to } => backup(&config, &to, output).await,
        Command::Copy { to } => copy(&config, &to, output).await,
        Command::Restore { from } => restore(&config, &from, output).await,
        Command::Serve { listen, bootstrap } => {
            if let Some(listen) = listen {
                config.listen = listen;
                config.listen_addr().map_err(|e| e.to_string())?;
            }
            serve(config, bootstrap, output, &loaded.warnings)
                .await
                .map_err(|e| e.to_string())
        }
        Command::Healthcheck { url } => {
            let origin = url.unwrap_or_else(|| listen_origin(&config.listen));
            healthcheck(&origin).await
        }
        Command::Config => {
            show_config(&config, &loaded.origins, output);
            Ok(())
        }
        command => {
            // One-shot commands: quiet logs, results on stdout.
            telemetry::init(LogFormat::Pretty, "warn");
            if !matches!(command, Command::Migrate) {
                require_database(&config).await?;
            }
            let app = App::open(&config).await.map_err(|e| e.to_string())?;
            let result = one_shot(&app, &config, output, cli.operator, command).await;
            app.store.close().await;
            result
        }
    }
}

/// How to make a database, for commands that need one.
const CREATE_DATABASE: &str = "create it with `scimd migrate` (or start `scimd serve`, which creates it too), \
     or point database_url (SCIMD_DATABASE_URL, DATABASE_URL, --config) at the existing one";

/// Commands other than `serve` and `migrate` work on a database that exists: opening one would
/// create an empty database wherever the command happens to be run. Says where it looked.
async fn require_database(config: &Config) -> Result<(), String> {
    use sqlx::{ConnectOptions, Connection};
    let url = &config.database_url;
    match Backend::from_url(url)? {
        Backend::Sqlite => {
            // A URL sqlx cannot read is reported by the store, as for `serve`.
            let Ok(options) = sqlx::sqlite::SqliteConnectOptions::from_str(url) else {
                return Ok(());
            };
            let path = options.get_filename();
            let in_memory = path.to_string_lossy().starts_with("file:") || path == Path::new(":memory:");
            if !in_memory && !path.exists() {
                let full = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
                return Err(format!(
                    "no database at {} (database_url is {}); {CREATE_DATABASE}",
                    full.display(),
                    redact(url)
                ));
            }
        }
        Backend::Postgres => {
            let Ok(options) = sqlx::postgres::PgConnectOptions::from_str(url) else {
                return Ok(());
            };
            match options.connect().await {
                Ok(conn) => {
                    let _ = conn.close().await;
                }
                Err(sqlx::Error::Database(err)) if err.code().as_deref() == Some("3D000") => {
                    return Err(format!(
                        "no database {:?} on the Postgres server at {}:{} (database_url is {}); \
                         {CREATE_DATABASE}",
                        options.get_database().unwrap_or_default(),
                        options.get_host(),
                        options.get_port(),
                        redact(url)
                    ));
                }
                // Unreachable, refused, …: the store says so when it opens.
                Err(_) => {}
            }
        }
    }
    Ok(())
}

/// The SQLite file `url` names, when it does not exist yet: `serve` removes what it created
/// there if it fails to start.
fn new_sqlite_file(url: &str) -> Option<PathBuf> {
    if Backend::from_url(url).ok()? != Backend::Sqlite {
        return None;
    }
    let options = sqlx::sqlite::SqliteConnectOptions::from_str(url).ok()?;
    let path = options.get_filename();
    let in_memory = path.to_string_lossy().starts_with("file:") || path == Path::new(":memory:");
    (!in_memory && !path.exists()).then(|| path.to_path_buf())
}

/// `scimd config`: every setting with its value (secrets masked) and its source, as TOML that
/// could be used as a configuration file, or as JSON.
fn show_config(config: &Config, origins: &[(String, String)], output: Output) {
    let mut values = match serde_json::to_value(config) {
        Ok(serde_json::Value::Object(map)) => map,
        _ => Default::default(),
    };
    if let Some(url) = values.get_mut("database_url") {
        *url = json!(redact(&config.database_url));
    }
    if let Some(key) = values.get_mut("token_signing_key")
        && key.as_str().is_some_and(|k| !k.is_empty())
    {
        *key = json!("***");
    }
    let entries = origins
        .iter()
        .map(|(key, from)| (key, values.get(key).cloned().unwrap_or_default(), from));
    if output == Output::Json {
        let map: serde_json::Map<String, serde_json::Value> = entries
            .map(|(key, value, from)| (key.clone(), json!({"value": value, "from": from})))
            .collect();
        println!("{}", serde_json::Value::Object(map));
        return;
    }
    for (key, value, from) in entries {
        if value.is_null() {
            println!("# {key} is not set  (from {from})");
        } else {
            println!("{key} = {value}  # from {from}");
        }
    }
}

/// `scimd man [COMMAND…]`: the roff page of scimd or of one of its commands.
fn man_page(path: &[String]) -> Result<(), String> {
    let mut cmd = Cli::command();
    cmd.build();
    let mut name = "scimd".to_string();
    for word in path {
        let sub = cmd
            .find_subcommand(word)
            .cloned()
            .ok_or_else(|| format!("{name} has no command {word:?}: see `{name} --help`"))?;
        name = format!("{name}-{word}");
        cmd = sub;
    }
    let cmd = cmd.name(name).version(VERSION);
    let mut page = Vec::new();
    clap_mangen::Man::new(cmd)
        .render(&mut page)
        .map_err(|e| format!("cannot render the man page: {e}"))?;
    use std::io::Write;
    std::io::stdout()
        .write_all(&page)
        .map_err(|e| format!("cannot write the man page: {e}"))
}

async fn serve(
    config: Config,
    bootstrap: bool,
    output: Output,
    warnings: &[UnknownVariable],
) -> Result<(), StartError> {
    // Kept to the end: dropping it sends the last buffered spans.
    let _traces = telemetry::init_with_traces(config.log_format, &config.log_level, &config.otlp_endpoint)
        .map_err(|e| StartError::Config(crate::config::ConfigError(e)))?;
    for w in warnings {
        tracing::warn!(variable = %w.variable, closest = %w.closest, "{w}");
    }
    let stop = server::shutdown_signal();
    // The port first: a start that cannot listen must not leave a new database behind.
    let listener = server::bind(&config.listen).await?;
    let new_file = new_sqlite_file(&config.database_url);
    // One server per SQLite file (see store::serve_lock); held until this function returns.
    let mut serve_lock = match server::serve_lock(&config) {
        Ok(lock) => lock,
        Err(err) => {
            if let Some(path) = &new_file {
                let _ = std::fs::remove_file(crate::store::serve_lock::lock_path(path));
            }
            return Err(err);
        }
    };
    let (app, created) = match open_and_bootstrap(&config, bootstrap).await {
        Ok(opened) => opened,
        Err(err) => {
            if let Some(path) = new_file {
                drop(serve_lock.take());
                for suffix in ["", "-wal", "-shm", "-journal", ".lock", ".auth"] {
                    let mut file = path.clone().into_os_string();
                    file.push(suffix);
                    let _ = std::fs::remove_file(file);
                }
            }
            return Err(err);
        }
    };
    let addr = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or(config.listen.clone());
    if let Some(lock) = &mut serve_lock {
        lock.listening_on(&addr);
    }
    tracing::info!(%addr, store = app.store.backend().name(), version = env!("CARGO_PKG_VERSION"), "scimd listening");
    let origin = if config.public_url.is_empty() {
        listen_origin(&addr)
    } else {
        config.public_origin()
    };
    let no_account = match &created {
        Some(_) => false,
        None => app.service.list_accounts().await?.is_empty(),
    };
    match (&created, no_account, bootstrap) {
        (Some(first), _, _) => print_bootstrap(&origin, output, first),
        (None, true, _) => {
            tracing::info!("no account yet: run `scimd serve --bootstrap` once, or `scimd account create`");
            if output == Output::Human {
                println!(
                    "scimd has no account yet. Restart it with `scimd serve --bootstrap` to create one with \
                     its tokens, or run `scimd account create --name NAME` and then \
                     `scimd token create --account ID --kind scim --idp okta`."
                );
            }
        }
        (None, false, true) => {
            tracing::info!("--bootstrap: an account exists already, nothing created");
            if output == Output::Human {
                println!(
                    "--bootstrap created nothing: an account exists already. Issue tokens with \
                     `scimd token create --account ID` (ids: `scimd account list`)."
                );
            }
        }
        (None, false, false) => {}
    }
    let router = app.router(&config);
    let background = app.spawn_background(&config);
    let grace = Duration::from_secs(config.shutdown_grace_seconds);
    let result = server::serve_with(
        listener,
        router,
        stop,
        grace,
        server::Limits::from_config(&config),
    )
    .await;
    for task in background {
        task.abort();
    }
    app.store.close().await;
    drop(serve_lock);
    tracing::info!("scimd stopped");
    result.map_err(|source| StartError::Listen { addr, source })
}

/// `scimd backup --to FILE`.
async fn backup(config: &Config, to: &std::path::Path, output: Output) -> Result<(), String> {
    if Backend::from_url(&config.database_url)? == Backend::Postgres {
        return Err(
            "scimd backup copies the embedded SQLite database; on Postgres use its own tools \
             (pg_dump --format=custom, or base backups with WAL archiving): see docs/operations.md"
                .to_string(),
        );
    }
    let report = store::backup::backup(&config.database_url, to).await?;
    match output {
        Output::Json => println!("{}", serde_json::to_string(&report).unwrap_or_default()),
        Output::Quiet => println!("{}", report.file.display()),
        Output::Human => println!(
            "Backed up to {} ({} bytes, verified: integrity ok, schema version {}; {} accounts, {} users, \
             {} groups) in {} ms.",
            report.file.display(),
            report.bytes,
            report.schema_version,
            report.accounts,
            report.users,
            report.groups,
            report.millis
        ),
    }
    Ok(())
}

/// `scimd copy --to postgres://…`.
async fn copy(config: &Config, to: &str, output: Output) -> Result<(), String> {
    if Backend::from_url(&config.database_url)? != Backend::Sqlite {
        return Err(
            "scimd copy moves a SQLite database to Postgres: database_url must name the SQLite file".into(),
        );
    }
    if Backend::from_url(to)? != Backend::Postgres {
        return Err("--to must be a postgres:// URL".into());
    }
    let report = store::copy::copy_to_postgres(&config.database_url, to).await?;
    match output {
        Output::Json => println!(
            "{}",
            serde_json::Value::Object(report.iter().map(|(t, n)| (t.clone(), json!(n))).collect())
        ),
        Output::Quiet => {}
        Output::Human => {
            println!(
                "Copied {} into {} (one transaction, row counts verified):",
                store::copy::describe_source(&config.database_url),
                redact(to)
            );
            for (table, n) in &report {
                println!("  {table}: {n}");
            }
            println!("Now set database_url to the Postgres URL and start scimd; the tokens keep working.");
        }
    }
    Ok(())
}

/// `scimd restore --from FILE`.
async fn restore(config: &Config, from: &std::path::Path, output: Output) -> Result<(), String> {
    if Backend::from_url(&config.database_url)? == Backend::Postgres {
        return Err(
            "scimd restore replaces the embedded SQLite database; on Postgres restore with pg_restore: \
             see docs/operations.md"
                .to_string(),
        );
    }
    let report = store::backup::restore(&config.database_url, from).await?;
    match output {
        Output::Json => println!("{}", serde_json::to_string(&report).unwrap_or_default()),
        Output::Quiet => println!("{}", report.file.display()),
        Output::Human => println!(
            "Restored {} from {} (schema version {}; {} accounts, {} users, {} groups). Start scimd to \
             serve it; newer migrations are applied then.",
            report.file.display(),
            from.display(),
            report.schema_version,
            report.accounts,
            report.users,
            report.groups
        ),
    }
    Ok(())
}

/// Logs the store's advice on the database's settings as warnings; a database that cannot
/// say (a fault just after start-up) is not a reason to stop.
async fn say_advice(app: &App) {
    if let Ok(advice) = app.store.advice().await {
        for line in advice {
            tracing::warn!("{line}");
        }
    }
}

/// Opens (creates, migrates) the database and, with `--bootstrap`, makes the first account.
async fn open_and_bootstrap(
    config: &Config,
    bootstrap: bool,
) -> Result<(App, Option<Bootstrap>), StartError> {
    let app = App::open(config).await?;
    say_advice(&app).await;
    let created = match bootstrap {
        true => match app.service.bootstrap("Default").await {
            Ok(created) => created,
            Err(err) => {
                app.store.close().await;
                return Err(err.into());
            }
        },
        false => None,
    };
    Ok((app, created))
}

/// `http://ADDR` for a listen address; an unspecified one (0.0.0.0, [::]) is reached on
/// loopback from this machine.
fn listen_origin(listen: &str) -> String {
    match listen.parse::<std::net::SocketAddr>() {
        Ok(addr) if addr.ip().is_unspecified() => {
            let loopback = if addr.is_ipv4() { "127.0.0.1" } else { "[::1]" };
            format!("http://{loopback}:{}", addr.port())
        }
        _ => format!("http://{listen}"),
    }
}

fn print_bootstrap(origin: &str, output: Output, first: &Bootstrap) {
    let base = format!("{origin}/scim/account/{}", first.account.id);
    match output {
        Output::Json => println!(
            "{}",
            json!({
                "account_id": first.account.id,
                "scim_base_url": base,
                "scim_token": first.scim.token,
                "admin_token": first.admin.token,
                "expires_at": first.scim.record.expires_at.to_rfc3339(),
            })
        ),
        Output::Human | Output::Quiet => {
            println!(
                "Created account {:?} ({}) with a SCIM token and an admin token.",
                first.account.name, first.account.id
            );
            // Not SCIMD_*: those are settings, and every scimd command warns of an unknown one.
            println!("The tokens are shown only this once. To use them from a shell, paste these lines:");
            println!();
            println!("# SCIM base URL: what the IdP (Okta, Entra ID, OneLogin) calls, with the SCIM token");
            println!("export ACCOUNT_ID={}", first.account.id);
            println!("export SCIM_BASE={base}");
            println!("export SCIM_TOKEN={}", first.scim.token);
            println!("# Admin token: opens this account's admin API");
            println!("export ADMIN_TOKEN={}", first.admin.token);
            println!();
        }
    }
}

/// GET {origin}/readyz over plain HTTP/1.1: enough for a container health check, without
/// an HTTP client in the image.
async fn healthcheck(origin: &str) -> Result<(), String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let authority = origin
        .strip_prefix("http://")
        .ok_or_else(|| format!("healthcheck needs an http:// origin, not {origin:?}"))?
        .trim_end_matches('/');
    let check = async {
        let mut stream = tokio::net::TcpStream::connect(authority).await?;
        stream
            .write_all(
                format!("GET /readyz HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n").as_bytes(),
            )
            .await?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await?;
        Ok::<_, std::io::Error>(response)
    };
    let response = tokio::time::timeout(Duration::from_secs(5), check)
        .await
        .map_err(|_| format!("{origin}/readyz did not answer within 5 seconds"))?
        .map_err(|e| format!("cannot reach {origin}: {e}"))?;
    let text = String::from_utf8_lossy(&response);
    let status = text.lines().next().unwrap_or_default();
    if status.split_whitespace().nth(1) == Some("200") {
        Ok(())
    } else {
        Err(format!("{origin}/readyz answered {status:?}"))
    }
}

fn base_url(config: &Config, account: Uuid) -> String {
    format!("{}/scim/account/{account}", config.public_origin())
}

/// How one-shot commands print their result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Output {
    Human,
    Json,
    Quiet,
}

fn print_token(config: &Config, output: Output, issued: &IssuedToken) {
    let r = &issued.record;
    let url = base_url(config, r.account_id);
    if output == Output::Quiet {
        println!("{}", issued.token);
        return;
    }
    if output == Output::Json {
        let out = json!({
            "account_id": r.account_id,
            "scim_base_url": url,
            "token_id": r.id,
            "kind": r.kind,
            "idp": r.idp.as_deref().map(Idp::normalise),
            "expires_at": r.expires_at.to_rfc3339(),
            "token": issued.token,
        });
        println!("{out}");
        return;
    }
    println!("Account:        {}", r.account_id);
    if r.kind == "scim" {
        println!("SCIM base URL:  {url}");
    }
    println!("Token id:       {}", r.id);
    println!(
        "Kind:           {}{}",
        r.kind,
        r.idp
            .as_deref()
            .map(|i| format!(" ({})", Idp::normalise(i)))
            .unwrap_or_default()
    );
    println!("Expires:        {}", r.expires_at.to_rfc3339());
    println!("Token:          {}", issued.token);
    println!();
    println!("The token is shown only this once: paste it into the IdP now.");
}

async fn webhook_command(
    svc: &crate::service::Service,
    output: Output,
    operator: &Option<String>,
    command: WebhookCommand,
) -> Result<(), String> {
    use crate::service::webhooks::endpoint_json;
    let err = cli_error;
    match command {
        WebhookCommand::Create {
            account,
            url,
            types,
            description,
        } => {
            let caller = Caller::operator(account, operator_name(operator));
            let e = svc
                .create_webhook(&caller, &url, types, description)
                .await
                .map_err(err)?;
            match output {
                Output::Quiet => println!("{} {}", e.id, e.secret),
                Output::Json => {
                    let mut out = endpoint_json(&e);
                    out["secret"] = json!(e.secret);
                    println!("{out}");
                }
                Output::Human => {
                    println!("Webhook id:      {}", e.id);
                    println!("URL:             {}", e.url);
                    println!("Signing secret:  {}", e.secret);
                    println!();
                    println!(
                        "The secret is shown only this once. Deliveries are signed per Standard Webhooks; \
                         see docs/events.md to verify them."
                    );
                }
            }
        }
        WebhookCommand::List { account } => {
            let caller = Caller::operator(account, operator_name(operator));
            let endpoints = svc.list_webhooks(&caller).await.map_err(err)?;
            if output == Output::Json {
                let items: Vec<_> = endpoints
                    .iter()
                    .map(|e| {
                        let mut out = endpoint_json(e);
                        out["position"] = json!(e.position.to_string());
                        out["attempts"] = json!(e.attempts);
                        out
                    })
                    .collect();
                println!("{}", json!({ "items": items }));
            } else if endpoints.is_empty() {
                println!("No webhook endpoints.");
            } else {
                for e in &endpoints {
                    let state = match (&e.disabled_reason, e.attempts) {
                        (Some(why), _) => format!("disabled: {why}"),
                        (None, 0) => format!("delivered through {}", e.position),
                        (None, n) => format!("failing ({n} attempts)"),
                    };
                    println!("{}  {}  {state}", e.id, e.url);
                }
            }
        }
        WebhookCommand::Delete { account, webhook } => {
            let caller = Caller::operator(account, operator_name(operator));
            svc.delete_webhook(&caller, webhook).await.map_err(err)?;
            if output == Output::Json {
                println!("{}", json!({"deleted": webhook}));
            } else {
                println!("Webhook {webhook} deleted.");
            }
        }
    }
    Ok(())
}

async fn oauth_client_command(
    svc: &crate::service::Service,
    config: &Config,
    output: Output,
    operator: &Option<String>,
    command: OAuthClientCommand,
) -> Result<(), String> {
    use crate::service::oauth::client_json;
    let err = cli_error;
    match command {
        OAuthClientCommand::Create {
            account,
            idp,
            description,
            access_token_seconds,
        } => {
            let caller = Caller::operator(account, operator_name(operator));
            let issued = svc
                .create_oauth_client(&caller, idp, description, access_token_seconds)
                .await
                .map_err(err)?;
            let base = base_url(config, account);
            let endpoint = format!("{base}/oauth/token");
            match output {
                Output::Quiet => println!("{} {}", issued.record.id, issued.secret),
                Output::Json => {
                    let mut out = client_json(&issued.record);
                    out["client_secret"] = json!(issued.secret);
                    out["token_endpoint"] = json!(endpoint);
                    out["scim_base_url"] = json!(base);
                    println!("{out}");
                }
                Output::Human => {
                    println!("SCIM base URL:   {base}");
                    println!("Token endpoint:  {endpoint}");
                    println!("Client id:       {}", issued.record.id);
                    println!("Client secret:   {}", issued.secret);
                    println!("IdP:             {}", Idp::normalise(&issued.record.idp));
                    println!("Access tokens:   {} s each", issued.record.access_token_seconds);
                    println!();
                    println!("The secret is shown only this once. See docs/idp-setup.md for the IdP's side.");
                }
            }
        }
        OAuthClientCommand::List { account } => {
            let caller = Caller::operator(account, operator_name(operator));
            let clients = svc.list_oauth_clients(&caller).await.map_err(err)?;
            if output == Output::Json {
                let items: Vec<_> = clients.iter().map(client_json).collect();
                println!("{}", json!({ "items": items }));
            } else if clients.is_empty() {
                println!("No OAuth clients.");
            } else {
                for c in &clients {
                    println!(
                        "{}  {:<8}  {}  {}",
                        c.id,
                        Idp::normalise(&c.idp),
                        c.revoked_at
                            .map(|t| format!("revoked {}", t.to_rfc3339()))
                            .unwrap_or_else(|| "active".to_string()),
                        c.description.as_deref().unwrap_or("")
                    );
                }
            }
        }
        OAuthClientCommand::Revoke { account, client } => {
            let caller = Caller::operator(account, operator_name(operator));
            svc.revoke_oauth_client(&caller, client).await.map_err(err)?;
            if output == Output::Json {
                println!("{}", json!({"revoked": client}));
            } else {
                println!("OAuth client {client} revoked; its access tokens no longer work.");
            }
        }
    }
    Ok(())
}

async fn schema_command(
    svc: &crate::service::Service,
    output: Output,
    operator: &Option<String>,
    command: SchemaCommand,
) -> Result<(), String> {
    use crate::scim::schema::declare::Extends;
    use serde_json::Value;
    let err = cli_error;
    let json_out = output == Output::Json;
    match command {
        SchemaCommand::Add {
            account,
            resource_type,
            file,
            required,
        } => {
            let extends = Extends::parse(&resource_type)
                .ok_or_else(|| format!("--resource-type must be User or Group, not {resource_type:?}"))?;
            let text = if file.as_os_str() == "-" {
                let mut s = String::new();
                std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)
                    .map_err(|e| format!("cannot read standard input: {e}"))?;
                s
            } else {
                std::fs::read_to_string(&file).map_err(|e| format!("cannot read {}: {e}", file.display()))?
            };
            let doc: Value =
                serde_json::from_str(&text).map_err(|e| format!("{} is not JSON: {e}", file.display()))?;
            let caller = Caller::operator(account, operator_name(operator));
            let declared = svc
                .declare_schema(&caller, &doc, extends, required)
                .await
                .map_err(err)?;
            if json_out {
                println!("{}", declared.to_json());
            } else if output == Output::Quiet {
                println!("{}", declared.schema.id);
            } else {
                println!(
                    "Declared {} ({} attributes) as an extension of {}.",
                    declared.schema.id,
                    declared.schema.attributes.len(),
                    extends.as_str()
                );
            }
        }
        SchemaCommand::List { account } => {
            let caller = Caller::operator(account, operator_name(operator));
            let schemas = svc.list_schemas(&caller).await.map_err(err)?;
            if json_out {
                let items: Vec<Value> = schemas.iter().map(|d| d.to_json()).collect();
                println!("{}", json!({ "items": items }));
            } else if schemas.is_empty() {
                println!("No extension schemas are declared.");
            } else {
                for d in &schemas {
                    let names: Vec<&str> = d.schema.attributes.iter().map(|a| a.name).collect();
                    println!(
                        "{}  {}{}  {}",
                        d.schema.id,
                        d.extends.as_str(),
                        if d.required { " (required)" } else { "" },
                        names.join(", ")
                    );
                }
            }
        }
        SchemaCommand::Remove { account, urn, force } => {
            let caller = Caller::operator(account, operator_name(operator));
            let report = svc.remove_schema(&caller, &urn, force).await.map_err(err)?;
            if json_out {
                println!("{}", json!({"id": urn, "resources_changed": report.resources}));
            } else {
                println!(
                    "Removed {urn}; {} resources lost their data under it.",
                    report.resources
                );
            }
        }
    }
    Ok(())
}

async fn one_shot(
    app: &App,
    config: &Config,
    output: Output,
    operator: Option<String>,
    command: Command,
) -> Result<(), String> {
    let svc = &app.service;
    let err = cli_error;
    let json_out = output == Output::Json;
    match command {
        Command::Serve { .. }
        | Command::Healthcheck { .. }
        | Command::Compare { .. }
        | Command::Backup { .. }
        | Command::Copy { .. }
        | Command::Restore { .. }
        | Command::Config
        | Command::Completions { .. }
        | Command::Man { .. } => {
            unreachable!("handled by run")
        }
        Command::Export {
            account,
            format,
            output: file,
        } => {
            let caller = Caller::operator(account, operator_name(&operator));
            let export = svc.export(&caller).await.map_err(err)?;
            let text = match format.to_ascii_lowercase().as_str() {
                "json" => serde_json::to_string_pretty(&export).map_err(|e| e.to_string())?,
                "csv" => export.to_csv(),
                other => return Err(format!("--format must be json or csv, not {other:?}")),
            };
            match file {
                Some(path) => {
                    std::fs::write(&path, text)
                        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
                    if output == Output::Human {
                        println!(
                            "Exported {} users, {} groups, {} memberships, {} role bindings to {}",
                            export.users.len(),
                            export.groups.len(),
                            export.memberships.len(),
                            export.role_bindings.len(),
                            path.display()
                        );
                    }
                }
                None => println!("{text}"),
            }
        }
        Command::User {
            command: UserCommand::Delete { account, user, force },
        } => {
            let caller = Caller::operator(account, operator_name(&operator));
            svc.admin_delete_user(&caller, &user.to_string(), &Default::default(), force)
                .await
                .map_err(err)?;
            if json_out {
                println!("{}", json!({"deleted": user}));
            } else {
                println!("User {user} deleted.");
            }
        }
        Command::Group {
            command:
                GroupCommand::Delete {
                    account,
                    group,
                    force,
                },
        } => {
            let caller = Caller::operator(account, operator_name(&operator));
            svc.admin_delete_group(&caller, &group.to_string(), &Default::default(), force)
                .await
                .map_err(err)?;
            if json_out {
                println!("{}", json!({"deleted": group}));
            } else {
                println!("Group {group} deleted.");
            }
        }
        Command::Schema { command } => schema_command(svc, output, &operator, command).await?,
        Command::Webhook { command } => webhook_command(svc, output, &operator, command).await?,
        Command::OauthClient { command } => {
            oauth_client_command(svc, config, output, &operator, command).await?
        }
        Command::Migrate => {
            say_advice(app).await;
            if json_out {
                println!("{}", json!({"migrated": true}));
            } else {
                println!("Database is up to date.");
            }
        }
        Command::Account {
            command: AccountCommand::Create { name },
        } => {
            let account = svc.create_account(&name).await.map_err(err)?;
            let url = base_url(config, account.id);
            if output == Output::Quiet {
                println!("{}", account.id);
            } else if json_out {
                println!(
                    "{}",
                    json!({"id": account.id, "name": account.name, "scim_base_url": url})
                );
            } else {
                println!("Account:        {}", account.id);
                println!("Name:           {}", account.name);
                println!("SCIM base URL:  {url}");
                println!();
                println!(
                    "Next: scimd token create --account {} --kind scim --idp okta",
                    account.id
                );
            }
        }
        Command::Account {
            command: AccountCommand::SetupLink { account, ttl },
        } => {
            let caller = Caller::operator(account, operator_name(&operator));
            let issued = svc.create_setup_link(&caller, ttl).await.map_err(err)?;
            let url = format!("{}/ui/setup?code={}", config.public_origin(), issued.code);
            match output {
                Output::Quiet => println!("{url}"),
                Output::Json => println!(
                    "{}",
                    json!({"id": issued.record.id, "url": url, "expires_at": issued.record.expires_at.to_rfc3339()})
                ),
                Output::Human => {
                    println!("Setup link:  {url}");
                    println!("Expires:     {}", issued.record.expires_at.to_rfc3339());
                    println!();
                    println!("It signs one person into this account's console once; it is shown only now.");
                }
            }
        }
        Command::Account {
            command: AccountCommand::List,
        } => {
            let accounts = svc.list_accounts().await.map_err(err)?;
            if json_out {
                let list: Vec<_> = accounts
                    .iter()
                    .map(|a| json!({"id": a.id, "name": a.name, "scim_enabled": a.scim_enabled, "created_at": a.created_at.to_rfc3339()}))
                    .collect();
                println!("{}", serde_json::Value::Array(list));
            } else {
                for a in accounts {
                    println!(
                        "{}  {}  scim={}  created {}",
                        a.id,
                        a.name,
                        if a.scim_enabled { "on" } else { "off" },
                        a.created_at.to_rfc3339()
                    );
                }
            }
        }
        Command::Token { command } => match command {
            TokenCommand::Create {
                account,
                kind,
                idp,
                ttl,
                description,
            } => {
                let caller = Caller::operator(account, operator_name(&operator));
                let issued = svc
                    .create_token_as(&caller, kind, idp, ttl, description)
                    .await
                    .map_err(err)?;
                print_token(config, output, &issued);
            }
            TokenCommand::List { account } => {
                let tokens = svc.list_tokens(account).await.map_err(err)?;
                if json_out {
                    let list: Vec<_> = tokens
                        .iter()
                        .map(|t| {
                            json!({
                                "id": t.id, "kind": t.kind, "idp": t.idp.as_deref().map(Idp::normalise), "description": t.description,
                                "created_at": t.created_at.to_rfc3339(), "expires_at": t.expires_at.to_rfc3339(),
                                "revoked_at": t.revoked_at.map(|r| r.to_rfc3339()),
                                "last_used_at": t.last_used_at.map(|r| r.to_rfc3339()),
                            })
                        })
                        .collect();
                    println!("{}", serde_json::Value::Array(list));
                } else {
                    for t in tokens {
                        let state = match t.revoked_at {
                            Some(r) => format!("revoked {}", r.to_rfc3339()),
                            None => format!("expires {}", t.expires_at.to_rfc3339()),
                        };
                        println!(
                            "{}  {}{}  {state}  last used {}",
                            t.id,
                            t.kind,
                            t.idp
                                .as_deref()
                                .map(|i| format!("/{}", Idp::normalise(i)))
                                .unwrap_or_default(),
                            t.last_used_at
                                .map(|r| r.to_rfc3339())
                                .unwrap_or_else(|| "never".into())
                        );
                    }
                }
            }
            TokenCommand::Revoke { account, token } => {
                let caller = Caller::operator(account, operator_name(&operator));
                svc.revoke_token_as(&caller, token, None).await.map_err(err)?;
                if json_out {
                    println!("{}", json!({"revoked": token}));
                } else {
                    println!("Token {token} revoked.");
                }
            }
            TokenCommand::Rotate { account, token, ttl } => {
                let caller = Caller::operator(account, operator_name(&operator));
                let issued = svc
                    .rotate_token_as(&caller, token, ttl, None)
                    .await
                    .map_err(err)?;
                print_token(config, output, &issued);
            }
        },
    }
    Ok(())
}

/// Who the audit log records for an operator's command: the login name, if there is one.
fn operator_name(given: &Option<String>) -> String {
    given
        .clone()
        .filter(|n| !n.trim().is_empty())
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "operator".into())
}

fn read_export(path: &std::path::Path) -> Result<Export, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    Export::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// `scimd compare`: prints the comparison; an error (exit status 1) when it is not clean.
fn compare_files(before: &std::path::Path, after: &std::path::Path, json_out: bool) -> Result<(), String> {
    let c = compare(&read_export(before)?, &read_export(after)?);
    if json_out {
        println!("{}", serde_json::to_string_pretty(&c).map_err(|e| e.to_string())?);
    } else {
        print_comparison(&c);
    }
    if c.clean {
        Ok(())
    } else {
        Err("the exports differ: see the report above".into())
    }
}

fn print_comparison(c: &Comparison) {
    println!(
        "Users added: {}   groups added: {}   users now IdP-managed: {}",
        c.users_added, c.groups_added, c.users_now_idp_managed
    );
    let section = |title: &str, lines: Vec<String>| {
        println!(
            "{title}: {}",
            if lines.is_empty() {
                "none".to_string()
            } else {
                lines.len().to_string()
            }
        );
        for l in lines {
            println!("  {l}");
        }
    };
    section(
        "Users missing",
        c.users_missing
            .iter()
            .map(|u| format!("{} ({})", u.user_name, u.id))
            .collect(),
    );
    section(
        "Groups missing",
        c.groups_missing
            .iter()
            .map(|g| format!("{} [{}]", g.display_name, g.identifier))
            .collect(),
    );
    section(
        "Duplicate users",
        c.duplicate_users
            .iter()
            .map(|d| {
                let names: Vec<String> = d.users.iter().map(|u| u.user_name.clone()).collect();
                format!("{}: {}", d.reason, names.join(", "))
            })
            .collect(),
    );
    section(
        "Duplicate groups",
        c.duplicate_groups
            .iter()
            .map(|g| {
                let ids: Vec<String> = g.iter().map(|k| k.identifier.clone()).collect();
                format!("{}: {}", g[0].display_name, ids.join(", "))
            })
            .collect(),
    );
    section(
        "Memberships lost",
        c.memberships_lost
            .iter()
            .map(|m| format!("{} in {}", m.user_name, m.group_identifier))
            .collect(),
    );
    section(
        "Role bindings lost",
        c.role_bindings_lost
            .iter()
            .map(|b| format!("{} on {} for {}", b.role, b.resource_group, b.group_identifier))
            .collect(),
    );
    section(
        "Extension data lost",
        c.extension_data_lost
            .iter()
            .map(|l| format!("{} {}: {}:{}", l.resource_type, l.name, l.schema, l.attribute))
            .collect(),
    );
    println!(
        "{}",
        if c.clean {
            "Nothing was lost."
        } else {
            "Differences found."
        }
    );
}

/// A service error as the CLI prints it: a domain error with the status and scimType the API
/// would answer (mapped once, in `http/error.rs`), as a SCIM error prints itself.
fn cli_error(e: crate::service::Error) -> String {
    use crate::service::Error;
    match e {
        Error::NotFound(_)
        | Error::PreconditionFailed(_)
        | Error::LockedByIdp(_)
        | Error::Conflict(_)
        | Error::Unavailable(_)
        | Error::Failed(_) => {
            let (status, scim_type, detail) = crate::http::error::ApiError(e).parts();
            crate::scim::ScimError::new(status, scim_type, detail).to_string()
        }
        other => other.to_string(),
    }
}
