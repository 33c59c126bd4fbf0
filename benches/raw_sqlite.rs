//! The raw SQLite baseline of `benches/load.sh`: what the database alone does, on this machine
//! in the same run, for the two operations scimd's hottest requests reduce to — a single-row
//! insert (POST /Users) and a primary-key lookup (GET /Users/{id}) — with the pragmas scimd
//! opens its file with (WAL, `synchronous=FULL`, foreign keys) and the same discipline for
//! writers (one writer at a time in the process, each write its own committed transaction).
//!
//! `cargo bench --bench raw_sqlite -- FILE SECONDS CONNECTIONS` prints two lines,
//! `insert <rows/s>` and `lookup <rows/s>`. The table is shaped like scimd's `users` (a text
//! primary key of account and id, a unique userName key, a JSON document).

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use tokio::sync::Mutex;
use uuid::Uuid;

#[tokio::main]
async fn main() {
    // `cargo bench` passes `--bench`; only the positional arguments are ours.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let [file, seconds, connections] = args.as_slice() else {
        eprintln!("usage: raw_sqlite FILE SECONDS CONNECTIONS");
        std::process::exit(2);
    };
    let seconds: u64 = seconds.parse().expect("SECONDS is a number");
    let connections: u32 = connections.parse().expect("CONNECTIONS is a number");
    let options = SqliteConnectOptions::from_str(&format!("sqlite://{file}"))
        .expect("a file name")
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(10));
    let pool = SqlitePoolOptions::new()
        .max_connections(connections)
        .connect_with(options)
        .await
        .expect("open the file");
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS raw_users (
             account_id TEXT NOT NULL, id TEXT NOT NULL, user_name TEXT NOT NULL, doc TEXT NOT NULL,
             PRIMARY KEY (account_id, id)) WITHOUT ROWID",
    )
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query("CREATE UNIQUE INDEX IF NOT EXISTS raw_users_name ON raw_users (account_id, user_name)")
        .execute(&pool)
        .await
        .unwrap();
    let account = Uuid::new_v4().hyphenated().to_string();
    let writer = Arc::new(Mutex::new(()));
    let ids = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));

    let (p, w, a, i) = (pool.clone(), writer.clone(), account.clone(), ids.clone());
    let inserted = run(connections, seconds, move |_| {
        let (pool, writer, account, ids) = (p.clone(), w.clone(), a.clone(), i.clone());
        async move {
            let id = Uuid::new_v4().hyphenated().to_string();
            let doc = format!(r#"{{"userName":"{id}@example.com","active":true}}"#);
            let _turn = writer.lock().await;
            sqlx::query("INSERT INTO raw_users (account_id, id, user_name, doc) VALUES (?1, ?2, ?3, ?4)")
                .bind(&account)
                .bind(&id)
                .bind(format!("{id}@example.com"))
                .bind(doc)
                .execute(&pool)
                .await
                .unwrap();
            ids.lock().unwrap().push(id);
        }
    })
    .await;
    println!("insert {inserted:.0}");

    let ids: Arc<Vec<String>> = Arc::new(ids.lock().unwrap().clone());
    let (p, a, i) = (pool.clone(), account.clone(), ids.clone());
    let looked_up = run(connections, seconds, move |n| {
        let (pool, account, ids) = (p.clone(), a.clone(), i.clone());
        async move {
            let id = &ids[n as usize % ids.len()];
            let row: (String,) =
                sqlx::query_as("SELECT doc FROM raw_users WHERE account_id = ?1 AND id = ?2")
                    .bind(&account)
                    .bind(id)
                    .fetch_one(&pool)
                    .await
                    .unwrap();
            std::hint::black_box(row);
        }
    })
    .await;
    println!("lookup {looked_up:.0}");
    pool.close().await;
}

/// Runs `op` from `workers` concurrent tasks for `seconds`; operations per second.
async fn run<F, Fut>(workers: u32, seconds: u64, op: F) -> f64
where
    F: Fn(u64) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let done = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for _ in 0..workers {
        let (op, done) = (op.clone(), done.clone());
        tasks.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                let n = done.fetch_add(1, Ordering::Relaxed);
                op(n).await;
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}
