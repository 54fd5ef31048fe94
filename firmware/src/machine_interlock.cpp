// placeholder: replaced by the firmware implementation
namespace labgate::firmware {}
