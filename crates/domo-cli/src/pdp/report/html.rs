//! The access review as one self-contained HTML page: inline CSS, a few lines of inline script for search, no network.

use std::fmt::Write as _;

use super::Review;
use crate::output;

const STYLE: &str = "\
:root{font:15px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;color:#1b1f24;background:#fff}
body{max-width:72rem;margin:0 auto;padding:1.5rem}
h1{font-size:1.6rem;margin:0 0 .2rem}h2{border-bottom:2px solid #d0d7de;padding-bottom:.2rem;margin-top:2rem}
.muted{color:#57606a}nav a{margin-right:1rem}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem}dl.facts dt{font-weight:600}
table{border-collapse:collapse;width:100%;margin:.5rem 0}th,td{text-align:left;padding:.25rem .5rem;border-bottom:1px solid #eaeef2;vertical-align:top}
th{background:#f6f8fa}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.bar{display:inline-block;height:.8rem;background:#2f81f7;vertical-align:middle;margin-right:.4rem;print-color-adjust:exact;-webkit-print-color-adjust:exact}
.share{white-space:nowrap;width:16rem}
.error{color:#cf222e;font-weight:600}.warning{color:#9a6700;font-weight:600}.note{color:#0969da}
.gain{color:#cf222e}.lose{color:#1a7f37}
article.policy{border:1px solid #d0d7de;border-radius:6px;padding:.5rem 1rem;margin:.75rem 0}
article.policy h3{margin:.2rem 0;font-size:1.05rem}article.policy ul{margin:.2rem 0;padding-left:1.2rem}
#search{font:inherit;padding:.35rem .6rem;width:24rem;max-width:100%;border:1px solid #d0d7de;border-radius:6px}
@media print{nav,#find{display:none}body{max-width:none;padding:0}article.policy,tr{break-inside:avoid}h2{break-after:avoid}}
";

/// Hides every element with `data-search` whose text does not hold the query (also taken from `#q=…`).
const SCRIPT: &str = "\
const find=document.getElementById('find'),q=document.getElementById('search'),n=document.getElementById('shown');find.hidden=false;
function apply(){const t=q.value.trim().toLowerCase();let shown=0;for(const e of document.querySelectorAll('[data-search]')){e.hidden=t!==''&&!e.dataset.search.includes(t);if(!e.hidden&&e.closest('#matrix'))shown++;}n.textContent=t===''?'':shown+(shown===1?' user':' users')+' shown';}
q.addEventListener('input',apply);
if(location.hash.startsWith('#q=')){q.value=decodeURIComponent(location.hash.slice(3));apply();}
";

/// Text safe inside HTML elements and attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The reason word of the matrix in words for people.
fn reason_text(word: &str) -> &'static str {
    match word {
        "policies" => "policies",
        "all-rows" => "All Rows policy",
        "owner" => "owner",
        "admin" => "Admin",
        "role-grant" => "role grant (manages the DataSet)",
        "pdp-disabled" => "PDP off",
        "no-policy" => "no policy",
        _ => "other",
    }
}

fn percent(part: usize, whole: usize) -> f64 {
    if whole == 0 { 0.0 } else { part as f64 * 100.0 / whole as f64 }
}

/// The whole page.
pub(crate) fn page(review: &Review) -> String {
    let mut h = String::with_capacity(1 << 20);
    let m = &review.matrix;
    let users = m.users.len() + m.virtual_users.len();
    let name = escape(&review.dataset_name);
    let _ = write!(
        h,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>Access review: {name}</title><style>{STYLE}</style></head><body>\n\
         <header><h1>Access review: {name}</h1><p class=\"muted\">DataSet <code>{}</code>. Made by \
         <code>domo pdp report</code> from the folder's policies, rows and directory; the numbers are those of \
         <code>domo pdp matrix</code>.</p></header>\n\
         <nav><a href=\"#summary\">Summary</a><a href=\"#who\">Who sees what</a><a href=\"#policies\">Policies</a>{}</nav>\n\
         <p id=\"find\" hidden><label>Filter users and policies: <input id=\"search\" type=\"search\" \
         placeholder=\"a user's name or id, a policy's name\"></label> <span id=\"shown\" class=\"muted\"></span></p>\n",
        escape(&review.dataset_id),
        if review.changes.is_some() { "<a href=\"#changes\">Changes</a>" } else { "" },
    );

    // Summary.
    let _ = writeln!(
        h,
        "<section id=\"summary\"><h2>Summary</h2><dl class=\"facts\">\
         <dt>Rows</dt><dd id=\"rows\">{}</dd><dt>Users</dt><dd id=\"users\">{users}</dd>\
         <dt>Policies</dt><dd id=\"policy-count\">{}</dd><dt>PDP</dt><dd id=\"pdp\">{}</dd>\
         <dt>Owner</dt><dd>{}</dd><dt>Admins</dt><dd>{}</dd></dl>",
        m.rows,
        review.policy_count,
        if review.pdp_on {
            "on: policies decide who sees which rows"
        } else {
            "off: everyone with access sees every row"
        },
        escape(&review.owner),
        if review.admins.is_empty() { "none".to_owned() } else { escape(&review.admins.join(", ")) },
    );
    let count = |severity: &str| review.findings.iter().filter(|f| f.0 == severity).count();
    let _ = writeln!(
        h,
        "<h3>Findings of <code>domo pdp lint</code>: {}, {}, {}</h3>",
        output::count(count("error"), "error", "errors"),
        output::count(count("warning"), "warning", "warnings"),
        output::count(count("note"), "note", "notes"),
    );
    if review.findings.is_empty() {
        h.push_str("<p>None.</p>\n");
    } else {
        h.push_str(
            "<table id=\"findings\"><thead><tr><th>Severity</th><th>Kind</th><th>Finding</th></tr></thead><tbody>\n",
        );
        for (severity, kind, message) in &review.findings {
            let _ = writeln!(
                h,
                "<tr><td class=\"{severity}\">{severity}</td><td>{kind}</td><td>{}</td></tr>",
                escape(message)
            );
        }
        h.push_str("</tbody></table>\n");
    }
    h.push_str("</section>\n");

    // Who sees what, most rows first.
    let mut rows: Vec<(String, String, &str, usize)> = m
        .users
        .iter()
        .map(|u| {
            let name = u.name.clone().unwrap_or_else(|| "(not in the directory)".to_owned());
            (name, u.id.to_string(), u.reason, u.visible)
        })
        .chain(m.virtual_users.iter().map(|v| (v.name.clone(), "virtual".to_owned(), v.reason, v.visible)))
        .collect();
    rows.sort_by(|a, b| b.3.cmp(&a.3).then_with(|| a.0.cmp(&b.0)));
    let _ = write!(
        h,
        "<section id=\"who\"><h2>Who sees what</h2><p>Every user's share of the {}, most first, and why.</p>\n\
         <table id=\"matrix\"><thead><tr><th>User</th><th>Id</th><th>Why</th><th class=\"num\">Rows</th>\
         <th class=\"share\">Share</th></tr></thead><tbody>\n",
        output::count(m.rows, "row", "rows")
    );
    for (name, id, reason, visible) in &rows {
        let share = percent(*visible, m.rows);
        let _ = writeln!(
            h,
            "<tr data-search=\"{}\" data-id=\"{id}\" data-visible=\"{visible}\" data-reason=\"{reason}\"><td>{}</td>\
             <td>{id}</td><td>{}</td><td class=\"num\">{visible}</td><td class=\"share\"><span class=\"bar\" \
             style=\"width:{:.1}%\"></span>{share:.0}%</td></tr>",
            escape(&format!("{} {id}", name.to_lowercase())),
            escape(name),
            reason_text(reason),
            share * 0.7,
        );
    }
    h.push_str("</tbody></table>\n");
    let _ = writeln!(h, "<h3 id=\"see-nothing\">Users who see nothing: {}</h3>", review.see_nothing.len());
    if !review.see_nothing.is_empty() {
        let _ = writeln!(h, "<p>{}</p>", escape(&review.see_nothing.join(", ")));
    }
    h.push_str("<h3 id=\"rows-nobody-sees\">Rows nobody sees (besides the owner and Admins)</h3>\n");
    if review.hidden_rows.is_empty() {
        h.push_str("<p>None: every row is visible to some user through a policy.</p>\n");
    }
    for message in &review.hidden_rows {
        let _ = writeln!(h, "<p class=\"warning\">{}</p>", escape(message));
    }
    h.push_str("</section>\n");

    // Each policy.
    let _ = writeln!(h, "<section id=\"policies\"><h2>Policies ({})</h2>", review.policy_count);
    if review.policies.is_empty() {
        h.push_str("<p>No policies.</p>\n");
    }
    for policy in &review.policies {
        let search = format!("{} {}", policy.label, policy.principals.join(" ")).to_lowercase();
        let _ = write!(
            h,
            "<article class=\"policy\" data-search=\"{}\"><h3>{}</h3><dl class=\"facts\">\
             <dt>Filters</dt><dd>{}</dd><dt>Applies to</dt><dd><ul>",
            escape(&search),
            escape(&policy.label),
            escape(&policy.filters)
        );
        for line in &policy.principals {
            let _ = write!(h, "<li>{}</li>", escape(line));
        }
        let _ = write!(
            h,
            "</ul></dd><dt>Rows admitted</dt><dd class=\"policy-rows\" data-rows=\"{}\">{} of {} ({:.0}%)</dd>\
             <dt>Only grant of</dt><dd>",
            policy.rows,
            policy.rows,
            m.rows,
            percent(policy.rows, m.rows)
        );
        if policy.sole_count == 0 {
            h.push_str("nobody: every member has another policy too");
        } else {
            h.push_str(&escape(&output::count(policy.sole_count, "user", "users")));
            h.push_str(": ");
            h.push_str(&escape(&policy.sole.join(", ")));
            if policy.sole_count > policy.sole.len() {
                let _ = write!(h, " and {} more", policy.sole_count - policy.sole.len());
            }
        }
        h.push_str("</dd></dl></article>\n");
    }
    h.push_str("</section>\n");

    // Changes.
    if let Some(changes) = &review.changes {
        let gain = changes.iter().filter(|c| c.gained > 0).count();
        let lose = changes.iter().filter(|c| c.lost > 0).count();
        let _ = writeln!(
            h,
            "<section id=\"changes\"><h2>Changes against the old policies</h2><p>{}, {}.</p>",
            output::count(gain, "user gains rows", "users gain rows"),
            output::count(lose, "user loses rows", "users lose rows")
        );
        if !changes.is_empty() {
            h.push_str(
                "<table><thead><tr><th>User</th><th class=\"num\">Before</th><th class=\"num\">After</th>\
                 <th class=\"num\">Gained</th><th class=\"num\">Lost</th></tr></thead><tbody>\n",
            );
            for c in changes {
                let _ = writeln!(
                    h,
                    "<tr data-search=\"{}\"><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
                     <td class=\"num gain\">+{}</td><td class=\"num lose\">-{}</td></tr>",
                    escape(&c.user.to_lowercase()),
                    escape(&c.user),
                    c.before,
                    c.after,
                    c.gained,
                    c.lost
                );
            }
            h.push_str("</tbody></table>\n");
        }
        h.push_str("</section>\n");
    }
    let _ = write!(h, "<script>\n{SCRIPT}</script>\n</body></html>\n");
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cannot_become_markup() {
        assert_eq!(
            escape("<script>\"a\" & 'b'</script>"),
            "&lt;script&gt;&quot;a&quot; &amp; &#39;b&#39;&lt;/script&gt;"
        );
    }
}
