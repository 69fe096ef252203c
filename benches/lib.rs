//! Workload generators shared by the benchmarks: a sales DataSet with PDP policies, deterministic by seed.
//!
//! [`Workload::generate`] builds the issue's benchmark: rows of 9 columns
//! covering all six types (2% NULL cells), 2,000 policies in a realistic mix,
//! 10,000 users and 200 groups of up to 40 members. The CSV is written to any
//! [`std::io::Write`] by [`Workload::write_csv`], so a million rows never sit
//! in memory as text.

use std::io::{self, Write};

use domo_model::{
    Column, ColumnType, Dataset, Directory, DirectoryGroup, FilterOperator, GroupId, Owner, Policy, PolicyFilter,
    PolicyId, PolicyType, Role, Schema, User, UserId,
};

/// A small, fast, deterministic random number generator (SplitMix64).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator for this seed.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }

    /// `true` with probability `percent` / 100.
    pub fn percent(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// `true` with probability `per_mille` / 1000.
    pub fn per_mille(&mut self, per_mille: u64) -> bool {
        self.below(1000) < per_mille
    }
}

/// Number of distinct salespeople (the 2,000+-value column).
pub const SALESPEOPLE: u64 = 2_400;
/// The 12 regions.
pub const REGIONS: [&str; 12] = [
    "North", "South", "East", "West", "Central", "Nordics", "Iberia", "Benelux", "Alps", "Balkans", "Baltics",
    "Islands",
];
/// Number of countries (each in one region).
pub const COUNTRIES: u64 = 48;
/// Product categories: products are `CAT-nnnn`.
pub const CATEGORIES: [&str; 8] = ["HW", "SW", "SVC", "NET", "SEC", "DATA", "CLOUD", "EDU"];
/// Number of distinct products.
pub const PRODUCTS: u64 = 5_000;
/// Number of users in the directory.
pub const USERS: u64 = 10_000;
/// Number of groups.
pub const GROUPS: u64 = 200;
/// Number of policies.
pub const POLICIES: usize = 2_000;

/// The generated DataSet, policies and directory; the rows are written on demand.
#[derive(Debug, Clone)]
pub struct Workload {
    /// The seed everything derives from.
    pub seed: u64,
    /// How many rows [`Workload::write_csv`] writes.
    pub rows: u64,
    /// The DataSet (schema, owner, PDP on).
    pub dataset: Dataset,
    /// The policies.
    pub policies: Vec<Policy>,
    /// Users and groups.
    pub directory: Directory,
    /// A user whose only policy is a one-salesperson policy.
    pub typical_user: UserId,
}

fn salesperson(i: u64) -> String {
    format!("sp-{i:04}")
}

fn country(i: u64) -> String {
    format!("Country-{i:02}")
}

fn product(i: u64) -> String {
    let category = CATEGORIES.get((i % CATEGORIES.len() as u64) as usize).copied().unwrap_or("HW");
    format!("{category}-{i:04}")
}

fn date(days_since_2020: u64) -> String {
    // 2020-01-01 plus days, computed through the civil calendar.
    let mut y = 2020u64;
    let mut d = days_since_2020;
    loop {
        let len = if y.is_multiple_of(4) { 366 } else { 365 };
        if d < len {
            break;
        }
        d -= len;
        y += 1;
    }
    let months = [31, if y.is_multiple_of(4) { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    let mut m = 0;
    for len in months {
        if d < len {
            break;
        }
        d -= len;
        m += 1;
    }
    format!("{y}-{:02}-{:02}", m + 1, d + 1)
}

/// Days from 2020-01-01 that order dates span (2020..=2025).
const DATE_SPAN: u64 = 2_192;

fn filter(column: &str, operator: FilterOperator, values: Vec<String>, not: bool) -> PolicyFilter {
    PolicyFilter { column: column.to_owned(), values, operator, not }
}

impl Workload {
    /// The schema: 9 columns covering all six types.
    pub fn schema() -> Schema {
        use ColumnType::*;
        Schema {
            columns: vec![
                Column::new(Long, "order_id"),
                Column::new(String, "salesperson"),
                Column::new(String, "region"),
                Column::new(String, "country"),
                Column::new(String, "product"),
                Column::new(Decimal, "amount"),
                Column::new(Double, "discount"),
                Column::new(Date, "order_date"),
                Column::new(Datetime, "updated_at"),
            ],
        }
    }

    /// Generates the policies and directory for `rows` rows from `seed`.
    pub fn generate(seed: u64, rows: u64) -> Self {
        let mut rng = Rng::new(seed ^ 0x5EED);
        let schema = Self::schema();
        let owner = UserId(USERS);
        let users: Vec<User> = (1..=USERS)
            .map(|id| {
                let role = if id % 1000 == 500 { Role::Admin } else { Role::Participant };
                User::new(UserId(id), format!("User {id}"), role)
            })
            .collect();
        // Groups of up to 40 members, drawn from users not holding a salesperson policy.
        let groups: Vec<DirectoryGroup> = (1..=GROUPS)
            .map(|id| {
                let size = 1 + rng.below(40);
                let mut members: Vec<UserId> = (0..size).map(|_| UserId(1_201 + rng.below(USERS - 1_201))).collect();
                members.sort();
                members.dedup();
                DirectoryGroup { id: GroupId(id), name: format!("Group {id}"), user_ids: members }
            })
            .collect();
        let mut policies = Vec::with_capacity(POLICIES);
        let mut add = |name: String, filters: Vec<PolicyFilter>, users: Vec<UserId>, groups: Vec<GroupId>| {
            let id = policies.len() as u64 + 1;
            policies.push(Policy {
                id: Some(PolicyId(id)),
                policy_type: PolicyType::User,
                name,
                filters,
                users,
                virtual_users: vec![],
                groups,
            });
        };
        // ~60%: one salesperson each, one user each.
        for i in 0..1_200u64 {
            add(
                format!("Salesperson {}", salesperson(i)),
                vec![filter("salesperson", FilterOperator::Equals, vec![salesperson(i)], false)],
                vec![UserId(i + 1)],
                vec![],
            );
        }
        // ~20%: a region, sometimes from a date on, given to a group.
        for i in 0..400u64 {
            let region = REGIONS.get((i % 12) as usize).copied().unwrap_or("North").to_owned();
            let mut filters = vec![filter("region", FilterOperator::Equals, vec![region.clone()], false)];
            if rng.percent(50) {
                filters.push(filter(
                    "order_date",
                    FilterOperator::GreaterThanEqual,
                    vec![date(rng.below(DATE_SPAN))],
                    false,
                ));
            }
            add(format!("Region {region} #{i}"), filters, vec![], vec![GroupId(1 + i % GROUPS)]);
        }
        // ~10%: a country plus a numeric or date range.
        for i in 0..200u64 {
            let c = country(rng.below(COUNTRIES));
            let range = match rng.below(3) {
                0 => {
                    let low = rng.below(5_000);
                    filter(
                        "amount",
                        FilterOperator::Between,
                        vec![format!("{low}.00"), format!("{}.50", low + 2_000)],
                        false,
                    )
                }
                1 => {
                    let from = rng.below(DATE_SPAN - 400);
                    filter("order_date", FilterOperator::Between, vec![date(from), date(from + 365)], false)
                }
                _ => filter("discount", FilterOperator::LessThan, vec![format!("0.{}", 1 + rng.below(9))], false),
            };
            let (users, groups) = if rng.percent(50) {
                (vec![UserId(1_201 + rng.below(USERS - 1_201))], vec![])
            } else {
                (vec![], vec![GroupId(1 + rng.below(GROUPS))])
            };
            add(
                format!("Country {c} range #{i}"),
                vec![filter("country", FilterOperator::Equals, vec![c.clone()], false), range],
                users,
                groups,
            );
        }
        // ~7%: a product line by prefix or pattern.
        for i in 0..140u64 {
            let category = CATEGORIES.get(rng.below(CATEGORIES.len() as u64) as usize).copied().unwrap_or("HW");
            let f = if i % 2 == 0 {
                filter("product", FilterOperator::BeginsWith, vec![format!("{category}-")], false)
            } else {
                filter("product", FilterOperator::Like, vec![format!("{category}-_{}%", rng.below(10))], false)
            };
            add(format!("Product {category} #{i}"), vec![f], vec![UserId(1_201 + rng.below(USERS - 1_201))], vec![]);
        }
        // ~3%: random multi-filter policies with `not`.
        for i in 0..60u64 {
            let mut filters = Vec::new();
            for _ in 0..2 + rng.below(2) {
                let not = rng.percent(50);
                filters.push(match rng.below(6) {
                    0 => filter(
                        "region",
                        FilterOperator::Equals,
                        vec![REGIONS.get(rng.below(12) as usize).copied().unwrap_or("North").to_owned()],
                        not,
                    ),
                    1 => filter("amount", FilterOperator::GreaterThan, vec![format!("{}.25", rng.below(9_000))], not),
                    2 => filter("discount", FilterOperator::LessThanEqual, vec![format!("0.{}", rng.below(10))], not),
                    3 => filter("product", FilterOperator::Contains, vec![format!("-{}", rng.below(100))], not),
                    4 => filter(
                        "order_id",
                        FilterOperator::GreaterThan,
                        vec![format!("{}", rng.below(rows.max(1)))],
                        not,
                    ),
                    _ => filter(
                        "updated_at",
                        FilterOperator::LessThan,
                        vec![format!("{} 12:00:00", date(rng.below(DATE_SPAN)))],
                        not,
                    ),
                });
            }
            let users = vec![UserId(1_201 + rng.below(USERS - 1_201))];
            add(format!("Mixed #{i}"), filters, users, vec![]);
        }
        let dataset = Dataset {
            id: "bench".into(),
            name: "Generated sales".to_owned(),
            description: None,
            rows,
            columns: schema.columns.len() as u64,
            schema,
            owner: Some(Owner { id: owner, name: None }),
            created_at: None,
            updated_at: None,
            data_current_at: None,
            pdp_enabled: true,
            policies: None,
        };
        Workload {
            seed,
            rows,
            dataset,
            policies,
            directory: Directory { users, groups, roles: Vec::new() },
            typical_user: UserId(7),
        }
    }

    /// The header row's text, without its line end.
    pub fn header(&self) -> String {
        let names: Vec<&str> = self.dataset.schema.columns.iter().map(|c| c.name.as_str()).collect();
        names.join(",")
    }

    /// How many chunks of [`CHUNK_ROWS`] rows the CSV has (the last one may be shorter).
    pub fn chunks(&self) -> u64 {
        self.rows.div_ceil(CHUNK_ROWS)
    }

    /// Writes the rows as CSV with a header row. 2% of cells are NULL (empty, unquoted).
    pub fn write_csv(&self, out: impl Write) -> io::Result<()> {
        self.write_csv_parallel(out, 1)
    }

    /// [`Workload::write_csv`] with the rows typed out by `threads` threads
    /// (chunks handed out in turn, written in order): the same bytes whatever
    /// the number of threads, so a 100M-row file streams to disk at the speed
    /// of both cores with a few chunks in memory.
    pub fn write_csv_parallel(&self, out: impl Write, threads: usize) -> io::Result<()> {
        let mut out = io::BufWriter::with_capacity(1 << 20, out);
        writeln!(out, "{}", self.header())?;
        let texts = Texts::new();
        let threads = threads.max(1) as u64;
        if threads == 1 {
            let mut chunk = Vec::new();
            for index in 0..self.chunks() {
                chunk.clear();
                self.write_chunk(&texts, index, &mut chunk);
                out.write_all(&chunk)?;
            }
            return out.flush();
        }
        std::thread::scope(|scope| {
            let mut receivers = Vec::new();
            for worker in 0..threads {
                // Two chunks queued per worker: enough to keep the writer busy, little memory.
                let (send, receive) = std::sync::mpsc::sync_channel::<Vec<u8>>(2);
                receivers.push(receive);
                let texts = &texts;
                scope.spawn(move || {
                    let mut index = worker;
                    while index < self.chunks() {
                        let mut chunk = Vec::with_capacity((CHUNK_ROWS * 100) as usize);
                        self.write_chunk(texts, index, &mut chunk);
                        if send.send(chunk).is_err() {
                            // The writer stopped (a write failed): nothing more to do.
                            return;
                        }
                        index += threads;
                    }
                });
            }
            for index in 0..self.chunks() {
                let receiver =
                    receivers.get((index % threads) as usize).ok_or_else(|| io::Error::other("no worker"))?;
                let chunk = receiver.recv().map_err(|_| io::Error::other("a row writer thread stopped"))?;
                out.write_all(&chunk)?;
            }
            out.flush()
        })
    }

    /// Appends chunk `index`'s rows to `out`. Each chunk draws from its own
    /// generator, seeded by the seed and the index.
    fn write_chunk(&self, texts: &Texts, index: u64, out: &mut Vec<u8>) {
        let mut rng = Rng::new(self.seed ^ index.wrapping_add(1).wrapping_mul(0xD1B5_4A32_D192_ED03));
        let first = index.saturating_mul(CHUNK_ROWS);
        let end = first.saturating_add(CHUNK_ROWS).min(self.rows);
        let mut digits = itoa_buffer();
        for row in first..end {
            for column in 0..9 {
                if column > 0 {
                    out.push(b',');
                }
                if rng.per_mille(20) {
                    continue;
                }
                match column {
                    0 => out.extend_from_slice(decimal(&mut digits, row + 1)),
                    1 => out.extend_from_slice(texts.salesperson(rng.below(SALESPEOPLE))),
                    2 => {
                        let c = rng.below(COUNTRIES);
                        out.extend_from_slice(REGIONS.get((c % 12) as usize).copied().unwrap_or("North").as_bytes());
                    }
                    3 => out.extend_from_slice(texts.country(rng.below(COUNTRIES))),
                    4 => {
                        let p = rng.below(PRODUCTS);
                        if p.is_multiple_of(97) {
                            out.push(b'"');
                            out.extend_from_slice(texts.product(p));
                            out.extend_from_slice(b", special\"");
                        } else {
                            out.extend_from_slice(texts.product(p));
                        }
                    }
                    5 => {
                        out.extend_from_slice(decimal(&mut digits, rng.below(10_000)));
                        out.push(b'.');
                        out.extend_from_slice(two_digits(rng.below(100)));
                    }
                    6 => {
                        out.extend_from_slice(b"0.");
                        out.extend_from_slice(two_digits(rng.below(100)));
                    }
                    7 => out.extend_from_slice(texts.date(rng.below(DATE_SPAN))),
                    _ => {
                        let sep = if rng.percent(50) { b'T' } else { b' ' };
                        out.extend_from_slice(texts.date(rng.below(DATE_SPAN)));
                        out.push(sep);
                        out.extend_from_slice(two_digits(rng.below(24)));
                        out.push(b':');
                        out.extend_from_slice(two_digits(rng.below(60)));
                        out.push(b':');
                        out.extend_from_slice(two_digits(rng.below(60)));
                        out.push(b'Z');
                    }
                }
            }
            out.push(b'\n');
        }
    }

    /// `count` policies spread over every kind, each changed: a value added, a filter dropped, a
    /// pattern relaxed or a `not` flipped (the change the impact benchmark and `diff_measure` judge).
    pub fn relaxed_policies(&self, count: usize) -> Vec<Policy> {
        let mut out = self.policies.clone();
        let step = (out.len() / count.max(1)).max(1);
        for (n, policy) in out.iter_mut().step_by(step).take(count).enumerate() {
            let several = policy.filters.len() > 1;
            let Some(first) = policy.filters.first_mut() else { continue };
            let value = first.values.first().cloned().unwrap_or_default();
            match first.operator {
                FilterOperator::Equals if n % 2 == 0 => first.values.push(format!("{value}-extra")),
                FilterOperator::Equals if several => {
                    policy.filters.pop();
                }
                FilterOperator::BeginsWith | FilterOperator::Like => {
                    first.operator = FilterOperator::BeginsWith;
                    first.values = vec![value.chars().take(1).collect()];
                }
                _ => first.not = !first.not,
            }
        }
        out
    }

    /// The policies after a review that changed `count` of them (spread over
    /// every kind of policy, deterministic by seed): some given to another user
    /// or group, some narrowed by one more filter, some with another value.
    /// Ids and names stay, so each shows as a changed policy in a diff.
    pub fn changed_policies(&self, count: usize) -> Vec<Policy> {
        let mut rng = Rng::new(self.seed ^ 0x00C4_A56E);
        let mut policies = self.policies.clone();
        let stride = (policies.len() / count.max(1)).max(1);
        for i in 0..count.min(policies.len()) {
            let Some(policy) = policies.get_mut(i * stride + stride / 2) else { continue };
            match i % 3 {
                0 if policy.groups.is_empty() => policy.users = vec![UserId(1_201 + rng.below(USERS - 1_201))],
                0 => policy.groups = vec![GroupId(1 + rng.below(GROUPS))],
                1 => policy.filters.push(filter("amount", FilterOperator::GreaterThan, vec!["5000.00".into()], false)),
                _ => {
                    if let Some(first) = policy.filters.first_mut() {
                        match first.column.as_str() {
                            // A salesperson no policy grants (only 0..1,200 have one).
                            "salesperson" => first.values = vec![salesperson(1_200 + rng.below(SALESPEOPLE - 1_200))],
                            "region" => {
                                let region = REGIONS.get(rng.below(12) as usize).copied().unwrap_or("North");
                                first.values = vec![region.to_owned()];
                            }
                            "country" => first.values = vec![country(rng.below(COUNTRIES))],
                            "product" => {
                                let category = CATEGORIES.get(rng.below(8) as usize).copied().unwrap_or("HW");
                                first.operator = FilterOperator::BeginsWith;
                                first.values = vec![format!("{category}-")];
                            }
                            _ => first.not = !first.not,
                        }
                    }
                }
            }
        }
        policies
    }
}

/// The version of the CSV's bytes for a seed and size: a workload file kept
/// from an older version is written again, not reused.
pub const CSV_VERSION: u32 = 2;

/// Rows per chunk of the CSV: each chunk has its own random generator, so
/// chunks can be typed out by several threads into the same bytes.
pub const CHUNK_ROWS: u64 = 1 << 16;

/// The texts of the columns with few distinct values, made once.
#[derive(Debug)]
struct Texts {
    salespeople: Vec<String>,
    countries: Vec<String>,
    products: Vec<String>,
    dates: Vec<String>,
}

impl Texts {
    fn new() -> Self {
        Self {
            salespeople: (0..SALESPEOPLE).map(salesperson).collect(),
            countries: (0..COUNTRIES).map(country).collect(),
            products: (0..PRODUCTS).map(product).collect(),
            dates: (0..DATE_SPAN).map(date).collect(),
        }
    }

    fn salesperson(&self, i: u64) -> &[u8] {
        self.salespeople.get(i as usize).map_or(b"", |s| s.as_bytes())
    }

    fn country(&self, i: u64) -> &[u8] {
        self.countries.get(i as usize).map_or(b"", |s| s.as_bytes())
    }

    fn product(&self, i: u64) -> &[u8] {
        self.products.get(i as usize).map_or(b"", |s| s.as_bytes())
    }

    fn date(&self, days: u64) -> &[u8] {
        self.dates.get(days as usize).map_or(b"", |s| s.as_bytes())
    }
}

/// `00` to `99`, for two-digit fields.
fn two_digits(n: u64) -> &'static [u8] {
    const PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
        2021222324252627282930313233343536373839\
        4041424344454647484950515253545556575859\
        6061626364656667686970717273747576777879\
        8081828384858687888990919293949596979899";
    let at = (n % 100) as usize * 2;
    PAIRS.get(at..at + 2).unwrap_or(b"00")
}

fn itoa_buffer() -> [u8; 20] {
    [0; 20]
}

/// `n` in decimal, written into the end of `buffer`.
fn decimal(buffer: &mut [u8; 20], mut n: u64) -> &[u8] {
    let mut at = buffer.len();
    loop {
        at -= 1;
        if let Some(digit) = buffer.get_mut(at) {
            *digit = b'0' + (n % 10) as u8;
        }
        n /= 10;
        if n == 0 || at == 0 {
            break;
        }
    }
    buffer.get(at..).unwrap_or(b"0")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_workload_has_the_issues_shape_and_is_deterministic() {
        let workload = Workload::generate(7, 2_000);
        assert_eq!(workload.policies.len(), POLICIES);
        assert_eq!(workload.directory.users.len(), USERS as usize);
        assert_eq!(workload.directory.groups.len(), GROUPS as usize);
        assert!(workload.directory.groups.iter().all(|g| !g.user_ids.is_empty() && g.user_ids.len() <= 40));
        let count = |prefix: &str| workload.policies.iter().filter(|p| p.name.starts_with(prefix)).count();
        assert_eq!(
            [count("Salesperson"), count("Region"), count("Country"), count("Product"), count("Mixed")],
            [1_200, 400, 200, 140, 60]
        );
        assert!(
            workload.policies.iter().filter(|p| p.name.starts_with("Mixed")).any(|p| p.filters.iter().any(|f| f.not))
        );
        let mut first = Vec::new();
        workload.write_csv(&mut first).unwrap();
        let mut second = Vec::new();
        Workload::generate(7, 2_000).write_csv(&mut second).unwrap();
        assert_eq!(first, second, "same seed, same bytes");
        let text = String::from_utf8(first).unwrap();
        assert_eq!(text.lines().count(), 2_001);
        // About 2% of the cells are NULL (empty, unquoted).
        let cells: usize = text.lines().skip(1).map(|l| l.split(',').count()).sum();
        let nulls: usize = text.lines().skip(1).map(|l| l.split(',').filter(|c| c.is_empty()).count()).sum();
        let share = nulls as f64 / cells as f64;
        assert!((0.01..0.03).contains(&share), "{share}");
    }

    #[test]
    fn threads_type_out_the_same_bytes_in_the_same_order() {
        // Three chunks and a short one: every thread count must give one file.
        let workload = Workload::generate(3, 3 * CHUNK_ROWS + 17);
        let mut one = Vec::new();
        workload.write_csv(&mut one).unwrap();
        for threads in [2, 3, 5] {
            let mut many = Vec::new();
            workload.write_csv_parallel(&mut many, threads).unwrap();
            assert!(one == many, "{threads} threads wrote other bytes");
        }
        let text = String::from_utf8(one).unwrap();
        let mut ids = text.lines().skip(1).filter_map(|l| l.split(',').next()).filter(|id| !id.is_empty());
        assert_eq!(ids.next(), Some("1"));
        assert_eq!(text.lines().count() as u64, 3 * CHUNK_ROWS + 18);
        assert!(text.ends_with('\n'));
        let last = text.lines().last().unwrap();
        assert!(last.starts_with(&format!("{},", 3 * CHUNK_ROWS + 17)) || last.starts_with(','), "{last}");
    }

    #[test]
    fn a_failed_write_stops_the_threads_with_the_error() {
        struct Full;
        impl Write for Full {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::other("disk full"))
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let error = Workload::generate(3, 4 * CHUNK_ROWS).write_csv_parallel(Full, 2).unwrap_err();
        assert_eq!(error.to_string(), "disk full");
    }

    #[test]
    fn fifty_changed_policies_change_fifty_policies_of_every_kind() {
        let workload = Workload::generate(7, 2_000);
        let after = workload.changed_policies(50);
        assert_eq!(after, workload.changed_policies(50), "deterministic");
        assert_eq!(after.len(), workload.policies.len());
        let changed: Vec<&Policy> =
            after.iter().zip(&workload.policies).filter(|(a, b)| a != b).map(|(a, _)| a).collect();
        assert_eq!(changed.len(), 50);
        for kind in ["Salesperson", "Region", "Country", "Product", "Mixed"] {
            assert!(changed.iter().any(|p| p.name.starts_with(kind)), "no {kind} policy changed");
        }
        assert!(after.iter().zip(&workload.policies).all(|(a, b)| a.id == b.id && a.name == b.name));
    }
}
