//! Choosing a service: categories, the search, the services a category shows.

#[allow(clippy::wildcard_imports)] // the session's types and imports
use super::*;

impl Session {
    /// The services the catalog screen lists: of the chosen category, matching the search.
    pub fn visible_services<'c>(&self, catalog: &'c CatalogView) -> Vec<&'c Service> {
        let category = self
            .category
            .and_then(|i| catalog.categories.get(i))
            .map(|c| c.id.as_str());
        let needle = self.search.to_lowercase();
        catalog
            .services
            .iter()
            .filter(|s| category.is_none_or(|c| s.category == c))
            .filter(|s| {
                needle.is_empty()
                    || s.name.get(self.lang).to_lowercase().contains(&needle)
                    || s.description
                        .get(self.lang)
                        .to_lowercase()
                        .contains(&needle)
            })
            .collect()
    }

    /// Picks a category (again to show all).
    pub fn pick_category(&mut self, i: usize) {
        self.category = if self.category == Some(i) {
            None
        } else {
            Some(i)
        };
    }

    /// Picks a service shown at `i`: its form starts.
    pub fn pick_service(&mut self, catalog: &CatalogView, i: usize) {
        let Some(service) = self.visible_services(catalog).get(i).map(|s| (*s).clone()) else {
            return;
        };
        self.service = Some(service);
        self.page = 0;
        self.values.clear();
        self.typed.clear();
        self.errors.clear();
        self.searching = false;
        self.screen = Screen::Form;
        self.focus_first_text();
    }

    /// Taps the catalog's search box.
    pub fn search_tapped(&mut self) {
        self.searching = !self.searching;
    }
}
