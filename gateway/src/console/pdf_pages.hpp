#pragma once
// Splitting one PDF into several by its outline, so that a month's invoices are rendered by one
// weasyprint run (starting it once per member is far too slow for 10,000 members) and still
// land in the zip as one file per member. weasyprint gives every <h1> a top-level outline entry
// pointing at its page, and each member's invoice starts with one.

#include <string>
#include <string_view>
#include <vector>

namespace labgate::gateway::console {

/// The PDF `pdf` cut before the page of each top-level outline entry: one document per entry,
/// from its page up to the next entry's (the last to the end), in outline order. Written with a
/// deterministic identifier, so the same input gives the same bytes. Throws std::runtime_error
/// when the PDF cannot be read, has no outline, or its entries do not start on increasing pages
/// from the first.
std::vector<std::string> split_pdf_at_outline(std::string_view pdf);

}  // namespace labgate::gateway::console
