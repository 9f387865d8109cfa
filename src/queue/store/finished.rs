//! Finished tasks in the compact form a lean read keeps them in.
//!
//! A ledger only grows: after a year most tasks are completed, failed or cancelled, and a finished
//! task never changes again (its transitions are refused). The commands that must be fast at any size
//! (`task get`, `task claim`, `task status`) therefore load finished tasks in this form rather than as
//! full [`TaskHead`]s: whether each one finished well (for its dependents' status), when it was
//! submitted (for the newest task) and what it waited on (to list dependents). That is about a third
//! of a head's memory and no per-task allocation, so those commands cost in proportion to the open
//! work, not to the whole history.

use crate::id::Id;
use crate::queue::store::TaskHead;
use crate::queue::task::State;
use crate::time::Timestamp;

/// One finished task.
#[derive(Clone, Debug, PartialEq)]
pub struct FinishedTask {
    /// Full id.
    pub id: Id,
    /// When it was enqueued.
    pub submitted_at: Timestamp,
    /// Completed, failed or cancelled.
    pub state: State,
    /// What it waited on (usually nothing).
    pub prerequisites: Box<[Id]>,
}

impl FinishedTask {
    /// The compact form of a finished task's head.
    pub fn of(head: &TaskHead) -> FinishedTask {
        FinishedTask::from(head.clone())
    }
}

impl From<TaskHead> for FinishedTask {
    fn from(head: TaskHead) -> FinishedTask {
        FinishedTask {
            id: head.id,
            submitted_at: head.submitted_at,
            state: head.state,
            prerequisites: head.prerequisites.into_boxed_slice(),
        }
    }
}

/// Finished tasks, sorted by id.
#[derive(Clone, Debug, Default)]
pub struct Finished {
    tasks: Vec<FinishedTask>,
}

impl Finished {
    /// Takes tasks already sorted by id, each once.
    pub(super) fn from_sorted(tasks: Vec<FinishedTask>) -> Finished {
        Finished { tasks }
    }

    /// How many tasks finished.
    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    /// Whether none did.
    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// Every finished task, in id order.
    pub fn iter(&self) -> std::slice::Iter<'_, FinishedTask> {
        self.tasks.iter()
    }

    /// The finished task `id`, if it is one.
    pub fn get(&self, id: &Id) -> Option<&FinishedTask> {
        self.position(id).map(|i| &self.tasks[i])
    }

    /// Finished tasks that list `id` among their prerequisites.
    pub fn dependents_of<'a>(&'a self, id: &'a Id) -> impl Iterator<Item = Id> + 'a {
        self.tasks.iter().filter(|t| t.prerequisites.contains(id)).map(|t| t.id)
    }

    fn position(&self, id: &Id) -> Option<usize> {
        self.tasks.binary_search_by(|t| t.id.cmp(id)).ok()
    }

    /// Records a newer version of task `head`, if it is one of these: replaced in place while it stays
    /// finished, taken out (and `false` returned) if it is no longer finished. Returns `true` when
    /// the head was taken in here, so the caller must not keep it elsewhere.
    pub(super) fn absorb(&mut self, head: &TaskHead) -> bool {
        let Some(i) = self.position(&head.id) else { return false };
        if head.state.is_terminal() {
            self.tasks[i] = FinishedTask::of(head);
            true
        } else {
            self.tasks.remove(i); // reopened by a hand edit or a merge: rare, so a shift is fine
            false
        }
    }
}
