//! The event feed's outbound webhooks, for the admin API.

use crate::feeds::{CreatedFeed, FeedInput, FeedView};
use crate::store::HistoryEvent;

use super::{Core, CoreError};

impl Core {
    /// Adds an outbound webhook; its secret is in the answer this once.
    pub async fn create_feed(&self, input: FeedInput) -> Result<CreatedFeed, CoreError> {
        Ok(self.feeds.create(input).await?)
    }

    /// Every outbound webhook and how its delivery is going.
    pub fn feeds(&self) -> Result<Vec<FeedView>, CoreError> {
        Ok(self.feeds.list()?)
    }

    /// One outbound webhook.
    pub fn feed(&self, id: &str) -> Result<FeedView, CoreError> {
        Ok(self.feeds.get(id)?)
    }

    /// Removes an outbound webhook and its dead letters.
    pub async fn delete_feed(&self, id: &str) -> Result<FeedView, CoreError> {
        Ok(self.feeds.delete(id).await?)
    }

    /// The events a feed gave up on.
    pub fn feed_dead_letters(&self, id: &str) -> Result<Vec<HistoryEvent>, CoreError> {
        Ok(self.feeds.dead_letters(id)?)
    }

    /// Sends a feed's dead letters again; how many.
    pub async fn redrive_feed(&self, id: &str) -> Result<usize, CoreError> {
        Ok(self.feeds.redrive(id).await?)
    }
}
