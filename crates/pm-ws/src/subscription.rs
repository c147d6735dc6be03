//! Who is subscribed to what, indexed both ways: connection → projects and project →
//! connections. A plain synchronous structure; its owner keeps its lock short and never holds it
//! across `.await`.

use std::collections::{BTreeSet, HashMap, HashSet};

use pm_core::ProjectId;

/// A connection, unique within the process.
pub type ConnId = u64;

#[derive(Debug, Default)]
pub struct Registry {
    by_conn: HashMap<ConnId, HashSet<ProjectId>>,
    by_project: HashMap<ProjectId, HashSet<ConnId>>,
}

impl Registry {
    /// Adds a subscription; returns whether it is new.
    pub fn subscribe(&mut self, conn: ConnId, project: ProjectId) -> bool {
        let added = self.by_conn.entry(conn).or_default().insert(project);
        self.by_project.entry(project).or_default().insert(conn);
        added
    }

    /// Removes a subscription; returns whether it existed.
    pub fn unsubscribe(&mut self, conn: ConnId, project: ProjectId) -> bool {
        let removed = self
            .by_conn
            .get_mut(&conn)
            .is_some_and(|projects| projects.remove(&project));
        if self.by_conn.get(&conn).is_some_and(HashSet::is_empty) {
            self.by_conn.remove(&conn);
        }
        if let Some(conns) = self.by_project.get_mut(&project) {
            conns.remove(&conn);
            if conns.is_empty() {
                self.by_project.remove(&project);
            }
        }
        removed
    }

    /// Removes every subscription of a connection and returns the projects it had.
    pub fn remove_connection(&mut self, conn: ConnId) -> Vec<ProjectId> {
        let projects: Vec<ProjectId> = self
            .by_conn
            .remove(&conn)
            .map(|p| p.into_iter().collect())
            .unwrap_or_default();
        for project in &projects {
            if let Some(conns) = self.by_project.get_mut(project) {
                conns.remove(&conn);
                if conns.is_empty() {
                    self.by_project.remove(project);
                }
            }
        }
        projects
    }

    pub fn subscribers(&self, project: ProjectId) -> impl Iterator<Item = ConnId> + '_ {
        self.by_project.get(&project).into_iter().flatten().copied()
    }

    pub fn projects_of(&self, conn: ConnId) -> BTreeSet<ProjectId> {
        self.by_conn
            .get(&conn)
            .into_iter()
            .flatten()
            .copied()
            .collect()
    }

    /// Checks that both indexes describe the same set of pairs and hold no empty sets.
    #[cfg(test)]
    pub fn check_invariants(&self) -> Result<(), String> {
        for (conn, projects) in &self.by_conn {
            if projects.is_empty() {
                return Err(format!("connection {conn} has an empty project set"));
            }
            for p in projects {
                if !self.by_project.get(p).is_some_and(|c| c.contains(conn)) {
                    return Err(format!("{conn} → {p} missing from the project index"));
                }
            }
        }
        for (project, conns) in &self.by_project {
            if conns.is_empty() {
                return Err(format!("project {project} has an empty connection set"));
            }
            for c in conns {
                if !self.by_conn.get(c).is_some_and(|p| p.contains(project)) {
                    return Err(format!("{project} → {c} missing from the connection index"));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_indexes_agree_through_any_sequence_of_operations() {
        let projects: Vec<ProjectId> = (0..4).map(|_| ProjectId::new()).collect();
        let mut r = Registry::default();
        // A deterministic pseudo-random walk over subscribe / unsubscribe / remove.
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..5_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let conn = state % 6;
            let project = projects[usize::try_from((state >> 8) % 4).unwrap()];
            match (state >> 16) % 5 {
                0 | 1 => {
                    r.subscribe(conn, project);
                }
                2 | 3 => {
                    r.unsubscribe(conn, project);
                }
                _ => {
                    r.remove_connection(conn);
                }
            }
            r.check_invariants().unwrap();
        }
    }

    #[test]
    fn a_removed_connection_receives_nothing_more() {
        let p = ProjectId::new();
        let mut r = Registry::default();
        assert!(r.subscribe(1, p));
        assert!(!r.subscribe(1, p), "second subscribe is not new");
        r.subscribe(2, p);
        assert_eq!(r.remove_connection(1), vec![p]);
        assert_eq!(r.subscribers(p).collect::<Vec<_>>(), vec![2]);
        assert!(r.projects_of(1).is_empty());
    }
}
