#include "pdf_pages.hpp"

#include <map>
#include <qpdf/Buffer.hh>
#include <qpdf/QPDF.hh>
#include <qpdf/QPDFOutlineDocumentHelper.hh>
#include <qpdf/QPDFPageDocumentHelper.hh>
#include <qpdf/QPDFWriter.hh>
#include <stdexcept>

namespace labgate::gateway::console {

std::vector<std::string> split_pdf_at_outline(std::string_view pdf) {
  try {
    QPDF in;
    // Our own renderer's output: a damaged file is refused (not rebuilt by guesswork), and qpdf
    // writes nothing to the console's stderr.
    in.setSuppressWarnings(true);
    in.setAttemptRecovery(false);
    // qpdf reads the bytes in place: `pdf` outlives every use of `in` below.
    in.processMemoryFile("invoices.pdf", pdf.data(), pdf.size());
    std::vector<QPDFPageObjectHelper> pages = QPDFPageDocumentHelper(in).getAllPages();
    std::map<QPDFObjGen, std::size_t> page_index;
    for (std::size_t i = 0; i < pages.size(); ++i) {
      page_index[pages[i].getObjectHandle().getObjGen()] = i;
    }
    QPDFOutlineDocumentHelper outline(in);
    std::vector<std::size_t> starts;
    for (auto& entry : outline.getTopLevelOutlines()) {
      QPDFObjectHandle page = entry.getDestPage();
      const auto it = page.isNull() ? page_index.end() : page_index.find(page.getObjGen());
      if (it == page_index.end()) throw std::runtime_error("an outline entry points at no page");
      // Two entries on one page would split a page between two documents.
      if (starts.empty() ? it->second != 0 : it->second <= starts.back()) {
        throw std::runtime_error("the outline entries do not start on increasing pages");
      }
      starts.push_back(it->second);
    }
    if (starts.empty()) throw std::runtime_error("the PDF has no outline");
    std::vector<std::string> out;
    for (std::size_t part = 0; part < starts.size(); ++part) {
      const std::size_t end = part + 1 < starts.size() ? starts[part + 1] : pages.size();
      QPDF doc;
      doc.emptyPDF();
      QPDFPageDocumentHelper doc_pages(doc);
      // A page of another QPDF is copied with everything it uses (fonts, images).
      for (std::size_t p = starts[part]; p < end; ++p) doc_pages.addPage(pages[p], false);
      QPDFWriter writer(doc);
      writer.setOutputMemory();
      writer.setDeterministicID(true);
      writer.write();
      const auto buffer = writer.getBufferSharedPointer();
      out.emplace_back(reinterpret_cast<const char*>(buffer->getBuffer()), buffer->getSize());
    }
    return out;
  } catch (const std::runtime_error&) {
    throw;  // ours, and qpdf's QPDFExc (a damaged file), which says what is wrong
  } catch (const std::exception& e) {
    // qpdf's other exceptions (logic errors on a strange structure) as the kind jobs report.
    throw std::runtime_error(std::string("cannot split the PDF: ") + e.what());
  }
}

}  // namespace labgate::gateway::console
