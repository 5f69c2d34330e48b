"""Vietnamese catalogue source: ``python -m osteocare.web.translations.vi_source`` writes vi/LC_MESSAGES/messages.po
(and the compiled .mo). Message ids are the English strings of the templates and of the knowledge files."""

from __future__ import annotations

VI: dict[str, str] = {
    "{value} is not allowed: expected {allowed}": "Giá trị {value} không hợp lệ: cần {allowed}",
    "{value} is not allowed: {message}": "Giá trị {value} không hợp lệ: {message}",
    "Too many failed sign-ins. Try again in {n} seconds.": "Đăng nhập sai quá nhiều lần. Hãy thử lại sau {n} giây.",
    "Wrong username or password.": "Sai tên đăng nhập hoặc mật khẩu.",
    "DXA": "DXA",
    "Started {drug}": "Bắt đầu {drug}",
    "Stopped {drug}": "Ngừng {drug}",
    "Dose of {drug} given": "Đã dùng một liều {drug}",
    "Reaction": "Phản ứng",
    "Fracture": "Gãy xương",
    "Assessment stored": "Đã lưu đánh giá",
    "Normal": "Bình thường",
    "Low bone mass": "Thiếu xương",
    "Osteoporosis": "Loãng xương",
    "beyond the LSC": "vượt quá LSC",
    "> LSC": "> LSC",
    "You have sent several questions just now. Please wait a few minutes before sending another.":
        "Bạn vừa gửi nhiều câu hỏi. Vui lòng đợi vài phút trước khi gửi câu hỏi khác.",
    "Admin": "Quản trị",
    "Accounts": "Tài khoản",
    "Username": "Tên đăng nhập",
    "Role": "Vai trò",
    "Record": "Hồ sơ",
    "Password": "Mật khẩu",
    "Patient record (patient accounts)": "Hồ sơ bệnh nhân (tài khoản bệnh nhân)",
    "Language": "Ngôn ngữ",
    "Create account": "Tạo tài khoản",
    "Audit log": "Nhật ký truy cập",
    "Patient record": "Hồ sơ bệnh nhân",
    "Filter": "Lọc",
    "When": "Thời điểm",
    "Who": "Ai",
    "Action": "Hành động",
    "What": "Nội dung",
    "Ask a doctor": "Hỏi bác sĩ",
    "Questions about osteoporosis and other bone, joint and muscle diseases. A doctor of the clinic answers; answers "
    "may be published without your name. In an emergency, call your local emergency number.":
        "Câu hỏi về loãng xương và các bệnh xương, khớp, cơ khác. Bác sĩ của phòng khám sẽ trả lời; câu trả lời có thể "
        "được đăng công khai nhưng không kèm tên bạn. Trường hợp cấp cứu, hãy gọi số cấp cứu tại địa phương.",
    "Your name (optional, never published)": "Tên của bạn (không bắt buộc, không bao giờ được đăng)",
    "Topic": "Chủ đề",
    "Your question": "Câu hỏi của bạn",
    "Send question": "Gửi câu hỏi",
    "Patients": "Bệnh nhân",
    "Worklist": "Danh sách công việc",
    "Questions": "Câu hỏi",
    "My plan": "Kế hoạch của tôi",
    "Questions and answers": "Hỏi đáp",
    "Sign out": "Đăng xuất",
    "Sign in": "Đăng nhập",
    "Decision support only: not a substitute for clinical judgement.":
        "Chỉ hỗ trợ quyết định: không thay thế đánh giá lâm sàng của bác sĩ.",
    "Questions from patients and readers": "Câu hỏi từ bệnh nhân và bạn đọc",
    "Unanswered": "Chưa trả lời",
    "Answered": "Đã trả lời",
    "{n} questions": "{n} câu hỏi",
    "Answer": "Trả lời",
    "Send answer": "Gửi câu trả lời",
    "Published": "Đã đăng",
    "Before publishing, remove anything that could identify the person. Names are never published; e-mail addresses "
    "and phone numbers are removed automatically.":
        "Trước khi đăng, hãy xóa mọi thông tin có thể nhận diện người hỏi. Tên không bao giờ được đăng; địa chỉ "
        "e-mail và số điện thoại được tự động xóa.",
    "Public topic": "Chủ đề công khai",
    "Public question": "Câu hỏi công khai",
    "Publish anonymised": "Đăng ẩn danh",
    "No questions.": "Không có câu hỏi.",
    "Public answer": "Câu trả lời công khai",
    "Edit the answer": "Sửa câu trả lời",
    "New text of the answer": "Nội dung mới của câu trả lời",
    "Save the edited answer": "Lưu câu trả lời đã sửa",
    "This answer is published. An edited answer is taken off the public page until you publish it again.":
        "Câu trả lời này đã được đăng. Câu trả lời đã sửa sẽ được gỡ khỏi trang công khai cho đến khi bạn đăng lại.",
    "Take off the public page": "Gỡ khỏi trang công khai",
    "Back to the questions": "Quay lại danh sách câu hỏi",
    "Another doctor changed this question since you opened the page; nothing was saved. Check it and send again.":
        "Một bác sĩ khác đã thay đổi câu hỏi này sau khi bạn mở trang; chưa có gì được lưu. Hãy kiểm tra rồi gửi lại.",
    "This question is already answered; nothing was saved. To change the answer, use “Edit the answer”.":
        "Câu hỏi này đã được trả lời; chưa có gì được lưu. Để thay đổi câu trả lời, hãy dùng “Sửa câu trả lời”.",
    "This question is not answered yet; nothing was saved.": "Câu hỏi này chưa được trả lời; chưa có gì được lưu.",
    "The username is too long: {n} characters; at most {most}.":
        "Tên đăng nhập quá dài: {n} ký tự; tối đa {most} ký tự.",
    "The password is too long: {n} characters; at most {most}.": "Mật khẩu quá dài: {n} ký tự; tối đa {most} ký tự.",
    "{n} accounts": "{n} tài khoản",
    "Pages of accounts": "Các trang tài khoản",
    "Home": "Trang chủ",
    "Your question was sent. Keep this link to read the answer:":
        "Câu hỏi đã được gửi. Hãy lưu đường dẫn này để đọc câu trả lời:",
    "Not answered yet.": "Chưa có câu trả lời.",
    "Osteoporosis care: assessment, treatment plans, doses and questions answered by doctors.":
        "Chăm sóc loãng xương: đánh giá, kế hoạch điều trị, các liều thuốc và câu hỏi được bác sĩ trả lời.",
    "Thank you. Your care team will see your report.": "Cảm ơn bạn. Nhóm điều trị sẽ xem báo cáo của bạn.",
    "My medicines": "Thuốc của tôi",
    "since {date}": "từ {date}",
    "No medicine for your bones at the moment.": "Hiện bạn chưa dùng thuốc điều trị xương.",
    "My next dose": "Liều tiếp theo của tôi",
    "No dose is due.": "Chưa đến hạn liều nào.",
    "Download my calendar": "Tải lịch của tôi",
    "How to take {drug}": "Cách dùng {drug}",
    "Take it first thing in the morning, before you eat or drink anything.":
        "Uống ngay khi thức dậy buổi sáng, trước khi ăn hoặc uống bất cứ thứ gì.",
    "Swallow it with a full glass of plain water only: not coffee, tea, juice, milk or mineral water.":
        "Nuốt thuốc với một cốc đầy nước lọc: không dùng cà phê, trà, nước trái cây, sữa hay nước khoáng.",
    "Stay sitting or standing upright afterwards: do not lie down.": "Sau đó hãy ngồi hoặc đứng thẳng: không nằm xuống.",
    "Wait before your first food, drink or other medicines of the day (the exact time is below).":
        "Chờ một khoảng thời gian trước bữa ăn, đồ uống hoặc thuốc khác đầu tiên trong ngày (thời gian cụ thể ở dưới).",
    "Never take it at bedtime.": "Không bao giờ uống trước khi đi ngủ.",
    "From the drug's label": "Theo tờ hướng dẫn của thuốc",
    "Calcium, vitamin D, exercise and falls": "Canxi, vitamin D, vận động và phòng ngã",
    "Report a reaction": "Báo cáo phản ứng",
    "Medicine": "Thuốc",
    "What happened": "Điều gì đã xảy ra",
    "How bad": "Mức độ",
    "Since when": "Từ khi nào",
    "Tell us more": "Mô tả thêm",
    "Send report": "Gửi báo cáo",
    "My questions": "Câu hỏi của tôi",
    "waiting for an answer": "đang chờ trả lời",
    "{n} years": "{n} tuổi",
    "Saved.": "Đã lưu.",
    "Current assessment": "Đánh giá hiện tại",
    "WHO category": "Phân loại WHO",
    "not applicable": "không áp dụng",
    "Store this assessment": "Lưu đánh giá này",
    "Recommendation": "Khuyến nghị",
    "Contraindications and drugs not offered": "Chống chỉ định và các thuốc không được đề xuất",
    "Printable summary": "Bản tóm tắt để in",
    "Treatment course": "Đợt điều trị",
    "stopped {date}": "ngừng {date}",
    "{n} doses given": "đã dùng {n} liều",
    "Next dose due": "Liều tiếp theo đến hạn",
    "No treatment course.": "Chưa có đợt điều trị.",
    "Bone density over time": "Mật độ xương theo thời gian",
    "T-score by site against the WHO bands; a large marker shows a BMD change from the previous exam at least as "
    "large as the least significant change (ISCD minimum acceptable LSC for the site, until the facility enters its "
    "own).":
        "Chỉ số T theo vị trí so với các ngưỡng WHO; điểm đánh dấu lớn cho thấy thay đổi BMD so với lần đo trước ít "
        "nhất bằng thay đổi có ý nghĩa tối thiểu (LSC tối thiểu chấp nhận được của ISCD cho vị trí đó, cho đến khi cơ "
        "sở nhập LSC của mình).",
    "no BMD values to compare": "không có giá trị BMD để so sánh",
    "No DXA exam recorded.": "Chưa có kết quả đo DXA.",
    "Timeline": "Dòng thời gian",
    "DXA exam": "Đo DXA",
    "Exam date": "Ngày đo",
    "Manufacturer": "Hãng máy",
    "T-score": "Chỉ số T",
    "BMD (g/cm²)": "BMD (g/cm²)",
    "Store a new assessment": "Lưu một đánh giá mới",
    "Save DXA exam": "Lưu kết quả DXA",
    "Lab result": "Kết quả xét nghiệm",
    "Test": "Xét nghiệm",
    "Value": "Giá trị",
    "Unit": "Đơn vị",
    "Date": "Ngày",
    "Save lab result": "Lưu kết quả xét nghiệm",
    "Site": "Vị trí",
    "Fragility fracture": "Gãy xương do giòn xương",
    "Save fracture": "Lưu gãy xương",
    "Dose given": "Liều đã dùng",
    "Appointment": "Lịch hẹn",
    "due {date}": "hạn {date}",
    "No open dose": "Không có liều đang chờ",
    "Given on": "Ngày dùng",
    "Lot number": "Số lô",
    "Body site": "Vị trí tiêm/truyền",
    "Observation (minutes)": "Theo dõi (phút)",
    "Observation notes": "Ghi chú theo dõi",
    "Save dose": "Lưu liều",
    "After dose": "Sau liều",
    "Or course": "Hoặc đợt điều trị",
    "Kind": "Loại",
    "Severity": "Mức độ",
    "Onset": "Khởi phát",
    "Outcome": "Diễn biến",
    "Description": "Mô tả",
    "Record as an intolerance": "Ghi nhận là không dung nạp",
    "Save reaction": "Lưu phản ứng",
    "Search by name or id": "Tìm theo tên hoặc mã",
    "Search": "Tìm kiếm",
    "{n} patients": "{n} bệnh nhân",
    "Name": "Họ tên",
    "Sex": "Giới",
    "Age": "Tuổi",
    "{n} answers": "{n} câu trả lời",
    "1 answer": "1 câu trả lời",
    "1 question": "1 câu hỏi",
    "1 patient": "1 bệnh nhân",
    "No answer matches.": "Không có câu trả lời phù hợp.",
    "All questions and answers": "Tất cả hỏi đáp",
    "Today's injection and infusion appointments": "Lịch tiêm và truyền hôm nay",
    "Time": "Giờ",
    "Patient": "Bệnh nhân",
    "Drug": "Thuốc",
    "Place": "Địa điểm",
    "None today.": "Hôm nay không có.",
    "Overdue": "Quá hạn",
    "late denosumab first": "denosumab trễ hạn được xếp trước",
    "Due": "Hạn",
    "Days late": "Số ngày trễ",
    "Nothing overdue.": "Không có gì quá hạn.",
    "Due today and this week": "Đến hạn hôm nay và trong tuần",
    "Nothing due.": "Không có gì đến hạn.",
    # starting and stopping a treatment course (patient page, doctors)
    "Start a treatment course": "Bắt đầu một đợt điều trị",
    "— choose a drug —": "— chọn thuốc —",
    "Recommended": "Được khuyến nghị",
    "Other drugs": "Các thuốc khác",
    "Start date": "Ngày bắt đầu",
    "The contraindication check found:": "Kiểm tra chống chỉ định phát hiện:",
    "Override reason (required when the contraindication check finds a reason not to give the drug)":
        "Lý do vẫn chỉ định (bắt buộc khi kiểm tra chống chỉ định phát hiện lý do không nên dùng thuốc)",
    "Start course": "Bắt đầu đợt điều trị",
    "Write your reason for starting {drug} despite the findings above.":
        "Hãy ghi rõ lý do bạn vẫn bắt đầu {drug} dù có các vấn đề nêu trên.",
    "Override reason": "Lý do vẫn chỉ định",
    "Contraindication check not run": "Chưa chạy được kiểm tra chống chỉ định",
    "Stop this course": "Ngừng đợt điều trị này",
    "Reason for stopping": "Lý do ngừng",
    "Stop date": "Ngày ngừng",
    "Stop {drug}": "Ngừng {drug}",
    # clinical history and registering a patient (web/history.py, history.html, new_patient.html)
    "Clinical history": "Tiền sử lâm sàng",
    "Edit clinical history": "Sửa tiền sử lâm sàng",
    "Save clinical history": "Lưu tiền sử lâm sàng",
    "Back to the patient page": "Quay lại trang bệnh nhân",
    "Your changes, not saved": "Các thay đổi của bạn (chưa được lưu)",
    "Someone else changed this history after you opened it. Nothing was saved. The form shows the stored values "
    "now; your changes are listed below: enter them again if they still apply.":
        "Người khác đã sửa tiền sử này sau khi bạn mở nó. Chưa có gì được lưu. Biểu mẫu đang hiển thị các giá trị đã "
        "lưu; các thay đổi của bạn được liệt kê bên dưới: hãy nhập lại nếu vẫn còn đúng.",
    "These facts feed the fracture-risk calculators and the treatment checks. The risk factors mean what "
    "QFracture-2012's inputs mean; their labels come from the reference code's variable names and were not "
    "confirmed from the primary source (status: secondary).":
        "Các thông tin này được dùng cho các công cụ tính nguy cơ gãy xương và cho việc kiểm tra điều trị. Các yếu tố "
        "nguy cơ có nghĩa như các biến đầu vào của QFracture-2012; nhãn của chúng lấy từ tên biến trong mã nguồn tham "
        "chiếu và chưa được đối chiếu với nguồn gốc (trạng thái: nguồn thứ cấp).",
    "Patient registered. Record the clinical history now, or later from the patient page.":
        "Đã đăng ký bệnh nhân. Hãy ghi tiền sử lâm sàng ngay bây giờ, hoặc sau này từ trang bệnh nhân.",
    "Body measures": "Chỉ số cơ thể",
    "Background": "Thông tin chung",
    "Risk factors": "Yếu tố nguy cơ",
    "Glucocorticoids": "Glucocorticoid",
    "FRAX result typed from an official FRAX tool": "Kết quả FRAX nhập từ công cụ FRAX chính thức",
    "Weight (kg)": "Cân nặng (kg)",
    "Height (cm)": "Chiều cao (cm)",
    "BMI (kg/m²), if weight and height are not known": "BMI (kg/m²), nếu không biết cân nặng và chiều cao",
    "Ethnic group (QFracture)": "Nhóm dân tộc (theo QFracture)",
    "Menopausal status": "Tình trạng mãn kinh",
    "Smoking": "Hút thuốc lá",
    "Alcohol (UK units a day)": "Rượu bia (đơn vị cồn Anh mỗi ngày)",
    "Calcium from food (mg a day)": "Canxi từ thức ăn (mg mỗi ngày)",
    "Previous fracture at an osteoporotic site": "Đã từng gãy xương ở vị trí hay gãy do loãng xương",
    "Parental osteoporosis or hip fracture": "Cha hoặc mẹ bị loãng xương hoặc gãy xương hông",
    "History of falls": "Tiền sử té ngã",
    "Corticosteroid use": "Dùng corticosteroid",
    "Rheumatoid arthritis or SLE": "Viêm khớp dạng thấp hoặc lupus ban đỏ hệ thống",
    "Cardiovascular disease": "Bệnh tim mạch",
    "Chronic renal disease": "Bệnh thận mạn",
    "Chronic liver disease": "Bệnh gan mạn",
    "Malabsorption": "Kém hấp thu",
    "Endocrine disorder": "Rối loạn nội tiết",
    "Type 1 diabetes": "Đái tháo đường típ 1",
    "Type 2 diabetes": "Đái tháo đường típ 2",
    "Asthma or COPD": "Hen phế quản hoặc bệnh phổi tắc nghẽn mạn tính",
    "Any cancer": "Ung thư (bất kỳ loại nào)",
    "Dementia": "Sa sút trí tuệ",
    "Epilepsy or anticonvulsant use": "Động kinh hoặc dùng thuốc chống co giật",
    "Parkinson's disease": "Bệnh Parkinson",
    "Antidepressant use": "Dùng thuốc chống trầm cảm",
    "Oestrogen HRT": "Liệu pháp hormon thay thế có estrogen",
    "Lives in a care or nursing home": "Sống tại cơ sở chăm sóc hoặc điều dưỡng",
    "Glucocorticoid dose (mg a day, prednisolone equivalent)":
        "Liều glucocorticoid (mg mỗi ngày, quy đổi tương đương prednisolon)",
    "Glucocorticoid use (months)": "Thời gian dùng glucocorticoid (tháng)",
    "Major osteoporotic fracture, 10 years (%)": "Gãy xương chính do loãng xương, 10 năm (%)",
    "Hip fracture, 10 years (%)": "Gãy xương hông, 10 năm (%)",
    "FRAX country model": "Mô hình quốc gia của FRAX",
    "Calculated with BMD": "Tính có dùng BMD",
    "Glucocorticoids ticked in FRAX": "Đã đánh dấu glucocorticoid trong FRAX",
    "White": "Người da trắng", "Indian": "Người Ấn Độ", "Pakistani": "Người Pakistan",
    "Bangladeshi": "Người Bangladesh", "Other Asian": "Người châu Á khác", "Black Caribbean": "Người da đen vùng Caribe",
    "Black African": "Người da đen châu Phi", "Chinese": "Người Trung Quốc", "Other ethnic group": "Nhóm dân tộc khác",
    "Premenopausal": "Chưa mãn kinh", "Perimenopausal": "Quanh mãn kinh", "Postmenopausal": "Đã mãn kinh",
    "Non-smoker": "Không hút thuốc", "Ex-smoker": "Đã bỏ thuốc", "Light smoker": "Hút ít",
    "Moderate smoker": "Hút vừa", "Heavy smoker": "Hút nhiều",
    "Cigarettes a day": "Số điếu thuốc mỗi ngày",
    "UK units of alcohol a day": "Số đơn vị cồn Anh mỗi ngày",
    "bands from the QFracture reference code": "các khoảng lấy từ mã nguồn tham chiếu của QFracture",
    "status": "trạng thái",
    "yes": "có", "no": "không",
    "day": "ngày",
    "major osteoporotic": "gãy xương chính do loãng xương",
    "none recorded": "chưa ghi nhận",
    "not recorded": "chưa ghi",
    "not entered": "chưa nhập",
    "Register a patient": "Đăng ký bệnh nhân",
    "Register": "Đăng ký",
    "Hospital number (record id)": "Mã hồ sơ bệnh viện",
    "Up to 64 characters, without / ? # % or a backslash.":
        "Tối đa 64 ký tự, không có / ? # % hoặc dấu gạch chéo ngược.",
    "Given name": "Tên",
    "Family name": "Họ",
    "Birth date": "Ngày sinh",
    "Age in whole years (only if the birth date is not known)": "Tuổi tròn năm (chỉ khi không biết ngày sinh)",
    "Phone": "Điện thoại",
    # the record's entries (web/entries.py, the patient page's "Conditions, medicines and intolerances")
    "Conditions, medicines and intolerances": "Bệnh lý, thuốc và không dung nạp thuốc",
    "Conditions": "Các bệnh lý", "Condition": "Bệnh lý",
    "Add a condition": "Thêm một bệnh lý", "Add condition": "Thêm bệnh lý",
    "Since (onset date, if known)": "Từ ngày (ngày khởi phát, nếu biết)",
    "Resolved on": "Đã khỏi vào ngày", "Stopped on": "Ngừng vào ngày", "Save": "Lưu",
    "Delete (entered in error)": "Xóa (nhập nhầm)", "Delete": "Xóa", "Reason": "Lý do",
    "Medication history": "Tiền sử dùng thuốc",
    "Add a medicine taken before or elsewhere": "Thêm thuốc đã dùng trước đây hoặc ở nơi khác",
    "Add medicine": "Thêm thuốc", "Started": "Bắt đầu", "Stopped": "Ngừng", "Last dose": "Liều cuối",
    "Intolerances": "Không dung nạp thuốc",
    "Add an intolerance": "Thêm một trường hợp không dung nạp thuốc", "Add intolerance": "Thêm không dung nạp thuốc",
    "Falls": "Té ngã", "Add a fall": "Thêm một lần té ngã", "Add fall": "Thêm lần té ngã",
    "With injury": "Có chấn thương", "with injury": "có chấn thương", "date not known": "không rõ ngày",
    "Fractures": "Các lần gãy xương", "fragility fracture": "gãy xương do giòn xương",
    "from {date}": "từ {date}", "to {date}": "đến {date}", "last dose {date}": "liều cuối {date}",
    "resolved {date}": "đã khỏi {date}",
    "The contraindication check of the active courses now finds:":
        "Kiểm tra chống chỉ định của các đợt điều trị đang dùng hiện phát hiện:",
    # knowledge text: condition labels (knowledge/conditions.yaml)
    "Achalasia": "Co thắt tâm vị (achalasia)",
    "Active or past venous thromboembolism (DVT, pulmonary embolism, retinal vein thrombosis)":
        "Thuyên tắc huyết khối tĩnh mạch hiện tại hoặc trước đây (huyết khối tĩnh mạch sâu, thuyên tắc phổi, huyết "
        "khối tĩnh mạch võng mạc)",
    "Active upper gastrointestinal disease (dysphagia, oesophageal disease, gastritis, duodenitis, ulcers)":
        "Bệnh đường tiêu hóa trên đang hoạt động (khó nuốt, bệnh thực quản, viêm dạ dày, viêm tá tràng, loét)",
    "Acute renal impairment": "Suy thận cấp",
    "Aspirin-sensitive asthma": "Hen nhạy cảm với aspirin",
    "Atrial fibrillation": "Rung nhĩ",
    "Bone metastases": "Di căn xương",
    "Breastfeeding": "Đang cho con bú",
    "Documented coronary heart disease": "Bệnh mạch vành đã được xác định",
    "Hereditary disorder predisposing to osteosarcoma": "Rối loạn di truyền làm tăng nguy cơ sarcoma xương",
    "High risk of cardiovascular disease or stroke (clinician's judgement)":
        "Nguy cơ cao bệnh tim mạch hoặc đột quỵ (theo đánh giá của bác sĩ)",
    "High risk of invasive breast cancer": "Nguy cơ cao ung thư vú xâm lấn",
    "History of hypertriglyceridaemia": "Tiền sử tăng triglycerid máu",
    "Hypercalcaemia (pre-existing)": "Tăng canxi máu (có từ trước)",
    "Hypocalcaemia": "Hạ canxi máu",
    "Hypoparathyroidism": "Suy tuyến cận giáp",
    "Increased risk of aspiration": "Tăng nguy cơ hít sặc",
    "Major upper gastrointestinal disease or bleeding (date of onset needed)":
        "Bệnh lý hoặc xuất huyết tiêu hóa trên nặng (cần ngày khởi phát)",
    "Metabolic bone disease other than primary osteoporosis": "Bệnh xương chuyển hóa khác ngoài loãng xương nguyên phát",
    "Myocardial infarction": "Nhồi máu cơ tim",
    "Oesophageal stricture": "Hẹp thực quản",
    "On dialysis": "Đang lọc máu",
    "Open epiphyses": "Sụn tăng trưởng (đầu xương) chưa đóng",
    "Other oesophageal abnormality that delays emptying": "Bất thường thực quản khác làm chậm thoát thức ăn khỏi thực quản",
    "Paget's disease of bone": "Bệnh Paget xương",
    "Planned invasive dental work": "Dự kiến làm thủ thuật nha khoa xâm lấn",
    "Pregnancy or possible pregnancy": "Đang mang thai hoặc có thể mang thai",
    "Previous thyroid or parathyroid surgery": "Đã phẫu thuật tuyến giáp hoặc tuyến cận giáp",
    "Primary hyperparathyroidism": "Cường cận giáp nguyên phát",
    "Prior external-beam or implant radiation involving the skeleton":
        "Đã xạ trị ngoài hoặc xạ trị áp sát có liên quan đến xương",
    "Prolonged immobilisation (surgery, bed rest) current or planned":
        "Bất động kéo dài (phẫu thuật, nằm lâu trên giường) hiện tại hoặc dự kiến",
    "Severe renal impairment (clinician's diagnosis; no numeric limit in the sources)":
        "Suy thận nặng (theo chẩn đoán của bác sĩ; các nguồn không đưa ra ngưỡng số)",
    "Skeletal malignancy": "Bệnh ác tính ở xương",
    "Small-bowel excision": "Đã cắt đoạn ruột non",
    "Stroke": "Đột quỵ",
    "Transient ischaemic attack": "Cơn thiếu máu não thoáng qua",
    "Unable to stand or sit upright for at least 30 minutes": "Không thể đứng hoặc ngồi thẳng ít nhất 30 phút",
    "Unable to stand or sit upright for at least 60 minutes": "Không thể đứng hoặc ngồi thẳng ít nhất 60 phút",
    "Uncontrolled hypertension": "Tăng huyết áp không kiểm soát",
    "Unexplained raised alkaline phosphatase": "Tăng phosphatase kiềm không rõ nguyên nhân",
    "Urolithiasis or hypercalciuria": "Sỏi tiết niệu hoặc tăng canxi niệu",
    "Vitamin D deficiency (clinician's diagnosis)": "Thiếu vitamin D (theo chẩn đoán của bác sĩ)",
    "Vitamin D toxicity": "Ngộ độc vitamin D",
    # the falls screen (web/history.py, falls_screen.html; knowledge lifestyle/steadi.yaml)
    "Falls screen": "Sàng lọc nguy cơ té ngã",
    "Record the falls screen": "Ghi kết quả sàng lọc té ngã",
    "Save falls screen": "Lưu kết quả sàng lọc té ngã",
    "Key questions": "Các câu hỏi chính",
    "Stay Independent brochure": "Tờ hướng dẫn Stay Independent",
    "not asked": "chưa hỏi",
    "at risk": "có nguy cơ",
    "no to the questions asked": "trả lời không với các câu đã hỏi",
    "not done": "chưa làm",
    "brochure: {n} statements answered yes": "tờ hướng dẫn: {n} câu trả lời có",
    "The patient filled in the brochure (tick the statements answered yes)":
        "Bệnh nhân đã điền tờ hướng dẫn (đánh dấu các câu trả lời có)",
    "The wording of the brochure's statements was not confirmed from the CDC brochure (status: {status}).":
        "Cách diễn đạt các câu trong tờ hướng dẫn chưa được đối chiếu với tờ hướng dẫn gốc của CDC (trạng thái: {status}).",
    "CDC STEADI: the three key questions, and the Stay Independent brochure. Any yes to a key question means the "
    "patient screened at risk of falling. Recording the screen replaces the answers recorded before.":
        "CDC STEADI: ba câu hỏi chính và tờ hướng dẫn Stay Independent. Trả lời có với bất kỳ câu hỏi chính nào nghĩa "
        "là bệnh nhân được sàng lọc là có nguy cơ té ngã. Ghi kết quả sàng lọc mới sẽ thay thế các câu trả lời đã ghi "
        "trước đó.",
    "Brochure statements are ticked, but not the box \"The patient filled in the brochure\": tick that box to record "
    "them, or untick the statements. Nothing was saved.":
        "Đã đánh dấu các câu trong tờ hướng dẫn nhưng chưa đánh dấu ô \"Bệnh nhân đã điền tờ hướng dẫn\": hãy đánh "
        "dấu ô đó để lưu các câu này, hoặc bỏ đánh dấu các câu. Chưa có gì được lưu.",
    "Last recorded on {date} ({days} ago).": "Ghi nhận lần gần nhất ngày {date} ({days} trước).",
    "The day this screen was recorded is not known.": "Không rõ ngày ghi nhận lần sàng lọc này.",
    "Have you fallen in the past year?": "Trong năm qua, ông/bà có bị té ngã không?",
    "Do you feel unsteady when standing or walking?": "Ông/bà có cảm thấy không vững khi đứng hoặc đi lại không?",
    "Do you worry about falling?": "Ông/bà có lo sợ bị té ngã không?",
    "I have fallen in the past year.": "Tôi đã bị té ngã trong năm qua.",
    "I use or have been advised to use a cane or walker to get around safely.":
        "Tôi dùng, hoặc đã được khuyên dùng, gậy hay khung tập đi để đi lại an toàn.",
    "Sometimes I feel unsteady when I am walking.": "Đôi khi tôi cảm thấy không vững khi đi.",
    "I steady myself by holding onto furniture when walking at home.":
        "Tôi phải vịn vào đồ đạc để giữ thăng bằng khi đi lại trong nhà.",
    "I am worried about falling.": "Tôi lo sợ bị té ngã.",
    "I need to push with my hands to stand up from a chair.": "Tôi phải chống tay mới đứng dậy được khỏi ghế.",
    "I have some trouble stepping up onto a curb.": "Tôi hơi khó khăn khi bước lên lề đường.",
    "I often have to rush to the toilet.": "Tôi thường phải vội vã đi vệ sinh.",
    "I have lost some feeling in my feet.": "Bàn chân tôi bị giảm cảm giác.",
    "I take medicine that sometimes makes me feel light-headed or more tired than usual.":
        "Tôi dùng thuốc đôi khi làm tôi choáng váng hoặc mệt hơn bình thường.",
    "I take medicine to help me sleep or improve my mood.": "Tôi dùng thuốc để dễ ngủ hoặc cải thiện tâm trạng.",
    "I often feel sad or depressed.": "Tôi thường cảm thấy buồn hoặc chán nản.",
    "Correct the identity (names, sex, birth date, phone)":
        "Sửa thông tin hành chính (họ tên, giới, ngày sinh, điện thoại)",
    "Save identity": "Lưu thông tin hành chính",
    "Vertebral heights (morphometry)": "Chiều cao đốt sống (đo hình thái)",
    "anterior {a} mm, middle {m}, posterior {p} mm": "bờ trước {a} mm, giữa {m}, bờ sau {p} mm",
    "Add a measured vertebra (for the Genant grade)": "Thêm một đốt sống đã đo (để phân độ Genant)",
    "Level": "Đốt sống",
    "Anterior height (mm)": "Chiều cao bờ trước (mm)",
    "Middle height (mm)": "Chiều cao phần giữa (mm)",
    "Posterior height (mm)": "Chiều cao bờ sau (mm)",
    "Add vertebra": "Thêm đốt sống",
    "Not recorded: QFracture uses {group}, the deployment's default (a project convention for Vietnamese patients; "
    "the model is not validated in Vietnam).":
        "Nếu không ghi: QFracture dùng nhóm {group}, mặc định của hệ thống (quy ước của dự án cho bệnh nhân Việt "
        "Nam; mô hình chưa được kiểm định tại Việt Nam).",
    # vocabulary shown from data (ids)
    "doctor": "bác sĩ", "nurse": "điều dưỡng", "patient": "bệnh nhân", "admin": "quản trị viên",
    "female": "nữ", "male": "nam",
    "femoral_neck": "cổ xương đùi", "total_hip": "toàn bộ khớp háng", "lumbar_spine": "cột sống thắt lưng",
    "radius_33": "xương quay 33%", "trochanter": "mấu chuyển",
    "hip": "khớp háng", "vertebra": "đốt sống", "wrist": "cổ tay", "humerus": "xương cánh tay", "pelvis": "xương chậu",
    "rib": "xương sườn", "ankle": "cổ chân", "tibia_fibula": "xương chày/mác", "femur_other": "xương đùi (khác)",
    "clavicle": "xương đòn", "other": "khác",
    "normal": "bình thường", "low_bone_mass": "thiếu xương", "osteoporosis": "loãng xương",
    "severe_osteoporosis": "loãng xương nặng",
    "verified": "đã xác minh", "secondary": "nguồn thứ cấp", "unverified": "chưa xác minh", "convention": "quy ước",
    "active": "đang dùng", "stopped": "đã ngừng", "completed": "đã hoàn thành",
    "first_line": "lựa chọn đầu tay", "alternative": "lựa chọn thay thế",
    "must_not": "chống chỉ định", "caution": "thận trọng", "fix_first": "cần xử trí trước",
    "dose": "liều thuốc", "dxa": "đo DXA", "lab": "xét nghiệm", "review": "tái khám",
    "creatinine": "creatinin", "calcium": "canxi", "vitamin_d_25oh": "25(OH) vitamin D", "phosphate": "phosphat",
    "magnesium": "magie", "albumin": "albumin", "vitamin_d": "vitamin D", "exercise": "vận động", "falls": "phòng ngã",
    "supplements": "thực phẩm bổ sung",
    "alendronate": "alendronat", "risedronate": "risedronat", "ibandronate": "ibandronat",
    "zoledronic_acid": "acid zoledronic", "denosumab": "denosumab", "teriparatide": "teriparatid",
    "abaloparatide": "abaloparatid", "romosozumab": "romosozumab", "raloxifene": "raloxifen",
    "calcitriol": "calcitriol",
    "fever": "sốt", "muscle_aches": "đau cơ", "joint_pain": "đau khớp", "acute_phase_reaction": "phản ứng pha cấp",
    "allergy": "dị ứng", "injection_site_reaction": "phản ứng tại chỗ tiêm", "digestive_irritation": "kích ứng tiêu hóa",
    "hypocalcaemia": "hạ canxi máu", "headache": "đau đầu", "orthostatic_hypotension": "hạ huyết áp tư thế",
    "mild": "nhẹ", "moderate": "vừa", "severe": "nặng",
    "ongoing": "đang tiếp diễn", "resolving": "đang đỡ", "resolved": "đã hết",
    "resolved_with_sequelae": "hết nhưng có di chứng",
    "unknown": "chưa rõ",
    "read": "đọc", "create": "tạo", "update": "cập nhật", "delete": "xóa", "export": "xuất",
    "Forbidden": "Không được phép", "Not found": "Không tìm thấy", "CSRF check failed": "Kiểm tra CSRF thất bại",
    "Invalid input": "Dữ liệu không hợp lệ", "Not signed in": "Chưa đăng nhập", "Conflict": "Xung đột",
    "Too many questions": "Quá nhiều câu hỏi", "Too many failed sign-ins": "Đăng nhập sai quá nhiều lần",
    "Cannot do this": "Không thể thực hiện", "Override required": "Cần lý do vượt chống chỉ định",
    "No such language": "Không có ngôn ngữ này", "Not Found": "Không tìm thấy",
    "Method Not Allowed": "Phương thức không được phép",
    # knowledge text: how to take the oral bisphosphonates (drug files, 'administration')
    "On rising, on an empty stomach, with a full glass (180-240 mL) of plain water only; at least 30 min before the "
    "first food, drink or other medicine of the day; swallow whole, do not chew or suck; stay fully upright (sitting "
    "or standing) for at least 30 min and until after the first food of the day; never at bedtime.":
        "Khi mới thức dậy, lúc bụng đói, chỉ với một cốc đầy (180-240 mL) nước lọc; ít nhất 30 phút trước bữa ăn, đồ "
        "uống hoặc thuốc khác đầu tiên trong ngày; nuốt nguyên viên, không nhai hoặc ngậm; giữ người thẳng (ngồi hoặc "
        "đứng) ít nhất 30 phút và cho đến sau bữa ăn đầu tiên trong ngày; không bao giờ uống trước khi đi ngủ.",
    "Immediate release: at least 30 min before the first food or drink of the day, with 180-240 mL plain water (not "
    "coffee, juice or mineral water); do not lie down for 30 min; swallow whole; separate from calcium, antacids, "
    "vitamins and iron by at least 30 min. Delayed release: immediately after breakfast with at least 120 mL plain "
    "water; upright for 30 min.":
        "Dạng giải phóng ngay: ít nhất 30 phút trước bữa ăn hoặc đồ uống đầu tiên trong ngày, với 180-240 mL nước lọc "
        "(không dùng cà phê, nước trái cây hay nước khoáng); không nằm xuống trong 30 phút; nuốt nguyên viên; uống "
        "cách canxi, thuốc kháng acid, vitamin và sắt ít nhất 30 phút. Dạng giải phóng chậm: ngay sau bữa sáng với ít "
        "nhất 120 mL nước lọc; giữ người thẳng trong 30 phút.",
    "Oral: at least 60 min before the first food or drink (other than plain water) and before any oral medicine or "
    "supplement (calcium, antacids, vitamins); 180-240 mL plain water; stay upright and do not lie down for 60 min; "
    "swallow whole.":
        "Đường uống: ít nhất 60 phút trước bữa ăn hoặc đồ uống đầu tiên (trừ nước lọc) và trước mọi thuốc uống hoặc "
        "thực phẩm bổ sung (canxi, thuốc kháng acid, vitamin); 180-240 mL nước lọc; giữ người thẳng và không nằm "
        "xuống trong 60 phút; nuốt nguyên viên.",
}

def _advice() -> dict[str, str]:
    """Generated advice (core/drugs/lifestyle.py): message id = the English template, fields kept. These are the
    project's own translations, not reviewed by a clinician: the pages say so beside the advice."""
    out = {
        "150 minutes a week of moderate-to-vigorous aerobic activity as in general guidelines.":
            "150 phút mỗi tuần hoạt động thể lực aerobic cường độ vừa đến mạnh, theo khuyến cáo chung.",
        "Address modifiable fall risks (sedating drugs, polypharmacy, hypotension, gait, vision, old glasses); refer "
        "for balance and strength training; home hazard evaluation.":
            "Xử lý các yếu tố nguy cơ ngã có thể thay đổi (thuốc an thần, dùng nhiều thuốc, hạ huyết áp, dáng đi, thị "
            "lực, kính cũ); giới thiệu tập thăng bằng và sức cơ; đánh giá nguy cơ trong nhà.",
        "After a positive screen: gait, strength and balance (Timed Up-and-Go, abnormal if >= 12 s; 30-second Chair "
        "Stand; 4-Stage Balance test); medication review; orthostatic blood pressure; vision; feet and footwear; "
        "vitamin D; home hazards.":
            "Sau khi sàng lọc dương tính: đánh giá dáng đi, sức cơ và thăng bằng (Timed Up-and-Go, bất thường nếu "
            ">= 12 giây; đứng lên ngồi xuống ghế trong 30 giây; thăng bằng 4 tư thế); rà soát thuốc; huyết áp tư thế; "
            "thị lực; bàn chân và giày dép; vitamin D; nguy cơ trong nhà.",
        "After a vertebral fracture: emphasise posture and spinal extensor exercises; avoid loaded end-range spinal "
        "flexion and twisting; avoid high impact.":
            "Sau gãy đốt sống: chú trọng tư thế và các bài tập cơ duỗi cột sống; tránh gập và xoay cột sống hết tầm "
            "khi mang tải; tránh vận động va đập mạnh.",
        "Balance training daily, or 4 hours a week in total (e.g. tai chi).":
            "Tập thăng bằng hằng ngày, hoặc tổng cộng 4 giờ mỗi tuần (ví dụ thái cực quyền).",
        "Calcium and vitamin D for all women on therapies other than anabolic therapy (diet or supplements).":
            "Canxi và vitamin D cho mọi phụ nữ đang dùng thuốc điều trị không phải thuốc đồng hóa xương (qua ăn uống "
            "hoặc viên bổ sung).",
        "Calcium target {target} mg/day in total (diet plus supplements). Dietary intake not recorded: ask about it; "
        "diet first, supplement only to close the gap.":
            "Mục tiêu canxi tổng cộng {target} mg/ngày (ăn uống cộng viên bổ sung). Chưa ghi nhận lượng canxi từ ăn "
            "uống: hãy hỏi; ưu tiên ăn uống, chỉ bổ sung phần còn thiếu.",
        "Calcium target {target} mg/day; diet provides {intake:g} mg/day: no supplement needed.":
            "Mục tiêu canxi {target} mg/ngày; ăn uống cung cấp {intake:g} mg/ngày: không cần bổ sung.",
        "Calcium target {target} mg/day; diet provides {intake:g} mg/day: supplement {gap:g} mg/day to close the gap "
        "(diet first).":
            "Mục tiêu canxi {target} mg/ngày; ăn uống cung cấp {intake:g} mg/ngày: bổ sung {gap:g} mg/ngày cho đủ "
            "(ưu tiên ăn uống).",
        "Falls screen not done: ask the three key questions.": "Chưa sàng lọc nguy cơ ngã: hãy hỏi ba câu hỏi chính.",
        "Falls screen positive: assess, then intervene.": "Sàng lọc nguy cơ ngã dương tính: đánh giá, rồi can thiệp.",
        "Falls screen negative (all three key questions answered no).":
            "Sàng lọc nguy cơ ngã âm tính (cả ba câu hỏi chính đều được trả lời là không).",
        "Falls screen incomplete (no key question answered yes). Not asked yet:":
            "Sàng lọc nguy cơ ngã chưa hoàn tất (chưa có câu hỏi chính nào được trả lời là có). Các câu chưa hỏi:",
        "A fall on {date} is on the record (within the past {months}): it counts as a yes to the first key question.":
            "Hồ sơ có một lần ngã ngày {date} (trong vòng {months} qua): được tính là trả lời có với câu hỏi chính "
            "thứ nhất.",
        "A fall on {date} is on the record (within the past {months}), although the first key question was answered "
        "no: it counts as a yes.":
            "Hồ sơ có một lần ngã ngày {date} (trong vòng {months} qua), dù câu hỏi chính thứ nhất được trả lời là "
            "không: được tính là trả lời có.",
        "The record's falls flag counts as a yes to the first key question (not asked).":
            "Dấu hiệu tiền sử ngã trong hồ sơ được tính là trả lời có với câu hỏi chính thứ nhất (chưa hỏi).",
        "Screen recorded on {date}.": "Sàng lọc được ghi nhận ngày {date}.",
        "Screen recorded on {date} ({days} ago).": "Sàng lọc được ghi nhận ngày {date} ({days} trước).",
        "No calcium intake target for age {age} in the knowledge base (its targets start at age {start}).":
            "Cơ sở tri thức không có mục tiêu canxi cho tuổi {age} (các mục tiêu bắt đầu từ {start} tuổi).",
        "Calcium target {target} mg/day; diet provides {intake:g} mg/day ({gap:g} mg/day below the target).":
            "Mục tiêu canxi {target} mg/ngày; ăn uống cung cấp {intake:g} mg/ngày (thấp hơn mục tiêu {gap:g} mg/ngày).",
        "Intake is above the upper limit of {upper} mg/day.": "Lượng đưa vào vượt giới hạn trên {upper} mg/ngày.",
        "No 25(OH)D result on the record.": "Hồ sơ chưa có kết quả 25(OH)D.",
        "Resistance training at least 2 days a week; 8-12 repetitions; intensity 5-8 of 10; 1-3 sets; at least one "
        "exercise each for legs, arms, chest, shoulders and back. Start at lower intensity if sedentary, at high "
        "fracture risk, or new to it.":
            "Tập kháng lực ít nhất 2 ngày mỗi tuần; 8-12 lần lặp; cường độ 5-8 trên thang 10; 1-3 hiệp; ít nhất một "
            "bài cho mỗi vùng: chân, tay, ngực, vai và lưng. Bắt đầu ở cường độ thấp hơn nếu ít vận động, có nguy cơ "
            "gãy xương cao hoặc mới tập.",
        "Split supplement doses, at most 500-600 mg each.": "Chia nhỏ liều bổ sung, mỗi lần tối đa 500-600 mg.",
        "Supplement {a}-{b} IU/day as needed.": "Bổ sung {a}-{b} IU/ngày khi cần.",
        "Three key questions: (1) fallen in the past year? (2) feels unsteady when standing or walking? (3) worries "
        "about falling? Any 'yes' - screened at risk - assess - intervene.":
            "Ba câu hỏi chính: (1) có bị ngã trong năm qua không? (2) có cảm thấy không vững khi đứng hoặc đi không? "
            "(3) có lo sợ bị ngã không? Có bất kỳ câu trả lời 'có' nào - sàng lọc có nguy cơ - đánh giá - can thiệp.",
        "Stay Independent brochure score {score} (may be at risk of falling).":
            "Điểm tờ tự đánh giá Stay Independent: {score} (có thể có nguy cơ ngã).",
        "Stay Independent brochure score {score} (below the at-risk score).":
            "Điểm tờ tự đánh giá Stay Independent: {score} (dưới ngưỡng có nguy cơ).",
    }
    for hi_en, hi_vi in (("", ""), (" and <= {hi} ng/mL", " và <= {hi} ng/mL")):
        for who_en, who_vi in ((" (general population).", " (dân số chung)."), (" ({guideline}).", " (theo {guideline}).")):
            out["Vitamin D intake {rda} IU/day (upper limit {ul} IU/day). 25(OH)D target >= {lo} ng/mL" + hi_en
                + who_en] = ("Lượng vitamin D {rda} IU/ngày (giới hạn trên {ul} IU/ngày). Mục tiêu 25(OH)D >= {lo} ng/mL"
                             + hi_vi + who_vi)
    for when_en, when_vi in (("", ""), (" on {date}", " ngày {date}")):
        for end_en, end_vi in ((" is BELOW target: replete.", " THẤP HƠN mục tiêu: cần bù."),
                               (" is BELOW target.", " THẤP HƠN mục tiêu."),
                               (" is above {hi} ng/mL.", " cao hơn {hi} ng/mL."),
                               (" is within target.", " nằm trong mục tiêu.")):
            out["Latest 25(OH)D {ng:.1f} ng/mL" + when_en + end_en] = "25(OH)D gần nhất {ng:.1f} ng/mL" + when_vi + end_vi
    return out


VI.update(_advice())
VI["Advice translated by OsteoCare, not yet reviewed by a clinician."] = (
    "Lời khuyên do OsteoCare dịch, chưa được bác sĩ duyệt.")


# accessibility: the skip link, landmark and pager names, words for what colour also shows, the chart's table
VI.update({
    "Error": "Lỗi",
    "Skip to main content": "Chuyển đến nội dung chính",
    "Main": "Điều hướng chính",
    "Pages": "Các trang",
    "Previous page": "Trang trước",
    "Next page": "Trang sau",
    "Page {n} of {total}": "Trang {n}/{total}",
    "Urgent": "Khẩn cấp",
    "The chart's values as a table": "Các giá trị của biểu đồ dưới dạng bảng",
    "T-score and BMD by exam": "Chỉ số T và BMD theo từng lần đo",
    "WHO band": "Mức theo WHO",
    "BMD change from the previous exam": "Thay đổi BMD so với lần đo trước",
})


# alerts on the worklist and the patient page (services/alerts.py): message id = the English template, fields kept;
# then the knowledge sentences the alerts carry (treatment-sequencing, course-monitoring). OsteoCare's own
# translations, not reviewed by a clinician: the pages say so beside the alerts.
VI.update({
    "Alerts translated by OsteoCare, not yet reviewed by a clinician.":
        "Cảnh báo do OsteoCare dịch, chưa được bác sĩ duyệt.",
    "{n} day": "{n} ngày",
    "{n} days": "{n} ngày",
    "{n} month": "{n} tháng",
    "{n} months": "{n} tháng",
    "{drug} dose {seq}": "Liều {drug} thứ {seq}",
    "{drug} dose": "Liều {drug}",
    "Dose dose {seq}": "Liều thứ {seq}",
    "Dose dose": "Liều",
    "{what} is {days} late (due {due}).": "{what} đã trễ {days} (hạn {due}).",
    "{what} is {days} past its due date ({due}).": "{what} đã quá ngày đến hạn {days} ({due}).",
    "The knowledge base sets no late-dose window for this drug.":
        "Cơ sở tri thức không quy định khoảng thời gian trễ liều cho thuốc này.",
    "{what} due today.": "{what} đến hạn hôm nay.",
    "{what} due on {due}.": "{what} đến hạn ngày {due}.",
    "Follow-on treatment after stopping {drug} is {days} late (due {due}):":
        "Điều trị tiếp nối sau khi ngừng {drug} đã trễ {days} (hạn {due}):",
    "({rule_id}; source: {citation})": "({rule_id}; nguồn: {citation})",
    "Review": "Tái khám",
    "Review of {drug}": "Tái khám điều trị {drug}",
    "Follow-up DXA": "Đo DXA theo dõi",
    "Lab: {lab}": "Xét nghiệm: {lab}",
    "{days} overdue (due {due}):": "quá hạn {days} (hạn {due}):",
    "due today:": "đến hạn hôm nay:",
    "due {due}:": "đến hạn {due}:",
    "Due from {start}, by {end}.": "Đến hạn từ {start}, chậm nhất {end}.",
    "Calcitriol monitoring: {lab} at {months}": "Theo dõi calcitriol: {lab} sau {months}",
    "Calcitriol monitoring: {lab} every {n} months": "Theo dõi calcitriol: {lab} mỗi {n} tháng",
    "{lab} {lo}-{hi} days after the denosumab injection of {date} (predisposed to hypocalcaemia)":
        "{lab} {lo}-{hi} ngày sau mũi tiêm denosumab ngày {date} (có yếu tố dễ bị hạ canxi máu)",
    "{lab} {when} after the denosumab injection of {date} (advanced CKD: weekly for the first month, then monthly; "
    "DMAB-CKD)":
        "{lab} {when} sau mũi tiêm denosumab ngày {date} (bệnh thận mạn giai đoạn nặng: mỗi tuần trong tháng đầu, sau "
        "đó mỗi tháng; DMAB-CKD)",
    "{drug} stopped on {date}.": "Đã ngừng {drug} ngày {date}.",
    # the calendar export (services/calendar.py): no drug name, no diagnosis
    "Clinic schedule": "Lịch khám",
    "Clinic appointment": "Lịch hẹn khám",
    "Blood test": "Xét nghiệm máu",
    "Medicine reminder": "Nhắc dùng thuốc",
    "Reminder": "Lời nhắc",
    "Overdue - please contact the clinic": "Quá hạn - vui lòng liên hệ phòng khám",
    "This alert: based on facts seen only in a secondary source, not yet confirmed from the primary source (status: "
    "secondary).":
        "Cảnh báo này: dựa trên dữ kiện chỉ thấy trong nguồn thứ cấp, chưa được xác nhận từ nguồn sơ cấp (trạng thái: "
        "nguồn thứ cấp).",
    "This alert: based on facts not yet confirmed from the primary source (status: unverified).":
        "Cảnh báo này: dựa trên dữ kiện chưa được xác nhận từ nguồn sơ cấp (trạng thái: chưa xác minh).",
    # knowledge sentences (treatment-sequencing, course-monitoring)
    "Denosumab is due 6 calendar months after the last injection; after the due date it is overdue - give it as soon "
    "as possible.":
        "Denosumab đến hạn 6 tháng dương lịch sau mũi tiêm cuối cùng; sau ngày đến hạn là quá hạn - hãy tiêm càng "
        "sớm càng tốt.",
    "More than about 1 month late: urgent - give denosumab as soon as possible, or start zoledronic acid if stopping; "
    "consider spine imaging if new back pain or height loss.":
        "Trễ hơn khoảng 1 tháng: khẩn cấp - tiêm denosumab càng sớm càng tốt, hoặc bắt đầu acid zoledronic nếu ngừng "
        "thuốc; cân nhắc chẩn đoán hình ảnh cột sống nếu mới đau lưng hoặc giảm chiều cao.",
    "On stopping, start the alternative antiresorptive 6 months after the final denosumab injection.":
        "Khi ngừng thuốc, bắt đầu thuốc chống hủy xương thay thế 6 tháng sau mũi tiêm denosumab cuối cùng.",
    "Annual review: adherence, calcium and vitamin D intake, falls, height, new fractures, dental health, thigh or "
    "groin pain (atypical femoral fracture).":
        "Tái khám hằng năm: tuân thủ điều trị, lượng canxi và vitamin D đưa vào, ngã, chiều cao, gãy xương mới, sức "
        "khỏe răng miệng, đau đùi hoặc đau bẹn (gãy xương đùi không điển hình).",
    "Follow-up DXA 1-2 years after starting or changing therapy (BHOF-MON).":
        "Đo DXA theo dõi 1-2 năm sau khi bắt đầu hoặc thay đổi điều trị (BHOF-MON).",
    "After 5 years of an oral or 3 years of an IV bisphosphonate, reassess fracture risk.":
        "Sau 5 năm dùng bisphosphonat đường uống hoặc 3 năm dùng bisphosphonat đường tĩnh mạch, đánh giá lại nguy cơ "
        "gãy xương.",
    "Re-evaluate at 5 years: high risk - continue up to 10 years or switch; low risk - may stop after 5 years with a "
    "bisphosphonate.":
        "Đánh giá lại sau 5 năm: nguy cơ cao - tiếp tục đến tối đa 10 năm hoặc chuyển thuốc; nguy cơ thấp - có thể "
        "ngừng sau 5 năm và chuyển sang một bisphosphonat.",
    "After romosozumab (12 doses) start a bisphosphonate or denosumab straight away to keep the gain.":
        "Sau romosozumab (12 liều), bắt đầu ngay một bisphosphonat hoặc denosumab để giữ mức tăng đã đạt được.",
    "After teriparatide or abaloparatide (up to 24 months) start a bisphosphonate or denosumab straight away to keep "
    "the gain.":
        "Sau teriparatid hoặc abaloparatid (tối đa 24 tháng), bắt đầu ngay một bisphosphonat hoặc denosumab để giữ "
        "mức tăng đã đạt được.",
    "The anabolic course ends on this date (lifetime limit); plan the follow-on antiresorptive. After teriparatide or "
    "abaloparatide (up to 24 months) start a bisphosphonate or denosumab straight away to keep the gain.":
        "Đợt điều trị đồng hóa xương kết thúc vào ngày này (giới hạn dùng suốt đời); lên kế hoạch thuốc chống hủy xương "
        "tiếp theo. Sau teriparatid hoặc abaloparatid (tối đa 24 tháng), bắt đầu ngay một bisphosphonat hoặc denosumab "
        "để giữ mức tăng đã đạt được.",
})


# the current-assessment panel of the patient page: the calculators' titles (CalculatorResult.name), the parts of the
# recommendation and the titles built from a guideline's name, then core.status.status_warning's fixed sentences as
# "{what}: <sentence>", worded as the alerts' "This alert: <sentence>" above. OsteoCare's own translations, not
# reviewed by a clinician: the page says so.
VI.update({
    "Bone density diagnosis (WHO categories, ISCD positions)":
        "Chẩn đoán theo mật độ xương (phân loại của WHO, quan điểm chính thức của ISCD)",
    "Genant semiquantitative vertebral fracture grade (from measured heights)":
        "Phân độ gãy đốt sống bán định lượng theo Genant (từ chiều cao đo được)",
    "QFracture-2012 equations": "Phương trình QFracture-2012",
    "FRAX (entered from an official FRAX tool), with published adjustments":
        "FRAX (nhập từ một công cụ FRAX chính thức), kèm các hiệu chỉnh đã được công bố",
    "OSTA (Osteoporosis Self-assessment Tool for Asians, women)":
        "OSTA (Công cụ tự đánh giá loãng xương cho người châu Á, nữ)",
    "OST (Osteoporosis Self-assessment Tool, men)": "OST (Công cụ tự đánh giá loãng xương, nam)",
    "OST (Osteoporosis Self-assessment Tool, US women)": "OST (Công cụ tự đánh giá loãng xương, phụ nữ Hoa Kỳ)",
    "CAROC 2010 fracture risk category": "Phân loại nguy cơ gãy xương CAROC 2010",
    "Kidney function (Cockcroft-Gault CrCl, CKD-EPI 2021 eGFR)":
        "Chức năng thận (CrCl theo Cockcroft-Gault, eGFR theo CKD-EPI 2021)",
    "Treatment options": "Các lựa chọn điều trị",
    "Checks before the first dose": "Kiểm tra trước liều đầu tiên",
    "Follow-up": "Theo dõi",
    "Sequencing advice": "Tư vấn về trình tự điều trị",
    "Lifestyle advice": "Tư vấn lối sống",
    "low": "thấp",  # risk categories of OSTA/OST and CAROC ("moderate" is above, shared with the severities)
    "high": "cao",
    "{guideline} risk stratum": "Nhóm nguy cơ theo {guideline}",
    "{guideline} FRAX threshold ({rule_id})": "Ngưỡng FRAX theo {guideline} ({rule_id})",
    "Assessment titles, warnings and explanations translated by OsteoCare, not yet reviewed by a clinician.":
        "Tiêu đề, cảnh báo và phần giải thích của phần đánh giá do OsteoCare dịch, chưa được bác sĩ duyệt.",
})
for _status in ("secondary", "unverified"):
    _alert = next(k for k in VI if k.startswith("This alert: ") and k.endswith(f"(status: {_status})."))
    VI["{what}: " + _alert.removeprefix("This alert: ")] = "{what}: " + VI[_alert].removeprefix("Cảnh báo này: ")


# the calculators' explanations on the patient page (core: RuleFired.parts): message id = the English template,
# fields kept; values of kind "term" (sites, categories, references, choices) by their own entries. OsteoCare's own
# translations, not reviewed by a clinician: the page says so.
VI.update({
    "(T rounded to one decimal, half away from zero.)":
        "(Chỉ số T được làm tròn đến một chữ số thập phân, làm tròn nửa ra xa số 0.)",
    "Adjustments applied as multipliers to the entered values and rounded once to one decimal: MOF {mof_in}% -> "
    "{mof}%, hip {hip_in}% -> {hip}%.":
        "Các hiệu chỉnh được áp dụng như hệ số nhân lên giá trị đã nhập và làm tròn một lần đến một chữ số thập "
        "phân: gãy xương chính do loãng xương (MOF) {mof_in}% -> {mof}%, gãy xương hông {hip_in}% -> {hip}%.",
    "Age {age} >= {min_age} and no osteoporosis medication recorded (treatment-naive).":
        "Tuổi {age} >= {min_age} và chưa ghi nhận thuốc điều trị loãng xương nào (chưa từng điều trị).",
    "CKD-EPI 2021 race-free eGFR = {egfr} mL/min/1.73 m2 (normalised to body surface area; used by guidelines and "
    "the denosumab boxed warning).":
        "eGFR theo CKD-EPI 2021 (không dùng yếu tố chủng tộc) = {egfr} mL/phút/1,73 m2 (chuẩn hóa theo diện tích bề mặt "
        "cơ thể; được các hướng dẫn và cảnh báo đóng khung của denosumab sử dụng).",
    "Cockcroft-Gault CrCl = {crcl} mL/min (actual body weight {weight} kg, not normalised to body surface area).":
        "CrCl theo Cockcroft-Gault = {crcl} mL/phút (cân nặng thực tế {weight} kg, không chuẩn hóa theo diện tích "
        "bề mặt cơ thể).",
    "Drug labels use this measure.": "Tờ hướng dẫn sử dụng thuốc dùng chỉ số này.",
    "Creatinine {creatinine} umol/L converted to mg/dL by dividing by {factor}.":
        "Creatinin {creatinine} µmol/L được đổi sang mg/dL bằng cách chia cho {factor}.",
    "Equations {equations}; {years}-year horizon; ethnicity {ethnicity}, smoking {smoking}, alcohol {alcohol}; "
    "risk factors present: none.":
        "Phương trình {equations}; khoảng thời gian {years} năm; dân tộc {ethnicity}, hút thuốc {smoking}, rượu "
        "{alcohol}; yếu tố nguy cơ có mặt: không có.",
    "Equations {equations}; {years}-year horizon; ethnicity {ethnicity}, smoking {smoking}, alcohol {alcohol}; "
    "risk factors present: {factors}.":
        "Phương trình {equations}; khoảng thời gian {years} năm; dân tộc {ethnicity}, hút thuốc {smoking}, rượu "
        "{alcohol}; yếu tố nguy cơ có mặt: {factors}.",
    "Input categories and risk-factor labels follow the reference code's variable names.":
        "Các nhóm đầu vào và tên yếu tố nguy cơ theo đúng tên biến của mã nguồn tham chiếu.",
    "FN T {fn} - LS T {ls} = {difference}, offset {offset} (rounded half away from zero): MOF x {factor}; hip "
    "unchanged.":
        "T cổ xương đùi {fn} - T cột sống thắt lưng {ls} = {difference}, mức bù {offset} (làm tròn nửa ra xa số "
        "0): gãy xương chính do loãng xương (MOF) x {factor}; nguy cơ gãy xương hông không đổi.",
    "FRAX entered from an official FRAX tool: country model {country}, {bmd}; 10-year MOF {mof}%, hip {hip}%.":
        "FRAX nhập từ một công cụ FRAX chính thức: mô hình quốc gia {country}, {bmd}; nguy cơ 10 năm: gãy xương "
        "chính do loãng xương {mof}%, gãy xương hông {hip}%.",
    "OsteoCare does not compute FRAX.": "OsteoCare không tự tính FRAX.",
    "Glucocorticoid dose {dose} mg/day prednisolone equivalent = {band} dose (age-specific mode, {age_column} "
    "column): MOF {mof}%, hip {hip}%.":
        "Liều glucocorticoid {dose} mg/ngày quy đổi tương đương prednisolon = liều {band} (chế độ theo tuổi, cột "
        "{age_column}): gãy xương chính do loãng xương (MOF) {mof}%, gãy xương hông {hip}%.",
    "Glucocorticoid dose {dose} mg/day prednisolone equivalent = {band} dose (all ages mode, all-ages column): MOF "
    "{mof}%, hip {hip}%.":
        "Liều glucocorticoid {dose} mg/ngày quy đổi tương đương prednisolon = liều {band} (chế độ mọi lứa tuổi, "
        "cột mọi lứa tuổi): gãy xương chính do loãng xương (MOF) {mof}%, gãy xương hông {hip}%.",
    "Female, age row {row} (5-year band {band}), femoral neck T {t}: low if T > {first}, moderate if {second} <= T "
    "<= {first}, high if T < {second} -> basal {basal}.":
        "Nữ, hàng tuổi {row} (nhóm 5 năm {band}), T cổ xương đùi {t}: thấp nếu T > {first}, vừa nếu {second} <= T "
        "<= {first}, cao nếu T < {second} -> nguy cơ nền {basal}.",
    "Male, age row {row} (5-year band {band}), femoral neck T {t}: low if T > {first}, moderate if {second} <= T "
    "<= {first}, high if T < {second} -> basal {basal}.":
        "Nam, hàng tuổi {row} (nhóm 5 năm {band}), T cổ xương đùi {t}: thấp nếu T > {first}, vừa nếu {second} <= T "
        "<= {first}, cao nếu T < {second} -> nguy cơ nền {basal}.",
    "No femoral neck T-score: basal risk undefined.":
        "Không có chỉ số T cổ xương đùi: không xác định được nguy cơ nền.",
    "The femoral neck T-score must use the NHANES III white-women reference, for women and men.":
        "Chỉ số T cổ xương đùi phải dùng quần thể tham chiếu NHANES III (phụ nữ da trắng), cho cả nữ và nam.",
    "Index = {coefficient} x (weight {weight} kg - age {age} years), decimals disregarded (truncated toward zero, "
    "project convention) = {index}.":
        "Chỉ số = {coefficient} x (cân nặng {weight} kg - tuổi {age}), bỏ phần thập phân (cắt về phía số 0, quy "
        "ước của dự án) = {index}.",
    "low risk: low if index >= {low_min}, high if index <= {high_max}, moderate in between.":
        "nguy cơ thấp: thấp nếu chỉ số >= {low_min}, cao nếu chỉ số <= {high_max}, vừa nếu ở giữa.",
    "moderate risk: low if index >= {low_min}, high if index <= {high_max}, moderate in between.":
        "nguy cơ vừa: thấp nếu chỉ số >= {low_min}, cao nếu chỉ số <= {high_max}, vừa nếu ở giữa.",
    "high risk: low if index >= {low_min}, high if index <= {high_max}, moderate in between.":
        "nguy cơ cao: thấp nếu chỉ số >= {low_min}, cao nếu chỉ số <= {high_max}, vừa nếu ở giữa.",
    "Index {index} < {refer_below}: refer for DXA.": "Chỉ số {index} < {refer_below}: chuyển đo DXA.",
    "Lowest T-score of the diagnostic sites: {t} at {site} ({reference}).":
        "Chỉ số T thấp nhất trong các vị trí chẩn đoán: {t} tại {site} ({reference}).",
    "Man aged {age} (>= {min_age}): T-scores with WHO categories.":
        "Nam {age} tuổi (>= {min_age}): dùng chỉ số T với phân loại của WHO.",
    "Man aged {age} (< {min_age}): Z-scores; osteoporosis cannot be diagnosed on BMD alone.":
        "Nam {age} tuổi (< {min_age}): dùng chỉ số Z; không thể chẩn đoán loãng xương chỉ dựa vào BMD.",
    "Postmenopausal woman: T-scores with WHO categories.":
        "Phụ nữ đã mãn kinh: dùng chỉ số T với phân loại của WHO.",
    "Premenopausal woman: Z-scores, not T-scores.": "Phụ nữ chưa mãn kinh: dùng chỉ số Z, không dùng chỉ số T.",
    "Men under 50: osteoporosis cannot be diagnosed on BMD alone.":
        "Nam dưới 50 tuổi: không thể chẩn đoán loãng xương chỉ dựa vào BMD.",
    "Lumbar spine excluded: {n} evaluable vertebrae (at least {min} needed).":
        "Loại trừ cột sống thắt lưng: chỉ có {n} đốt sống đánh giá được (cần ít nhất {min}).",
    "T {t} >= {normal_min}: normal.": "T {t} >= {normal_min}: bình thường.",
    "{osteoporosis_max} < T {t} < {normal_min}: low bone mass (osteopenia).":
        "{osteoporosis_max} < T {t} < {normal_min}: thiếu xương (giảm mật độ xương).",
    "T {t} <= {osteoporosis_max}: osteoporosis.": "T {t} <= {osteoporosis_max}: loãng xương.",
    "T {t} <= {osteoporosis_max} with a fragility fracture: severe (established) osteoporosis.":
        "T {t} <= {osteoporosis_max} kèm gãy xương do giòn xương: loãng xương nặng (loãng xương thiết lập).",
    "{site}: T {t} as reported by the densitometer ({reference}).":
        "{site}: T {t} theo kết quả máy đo mật độ xương ({reference}).",
    "{site}: T {t} computed against {reference} ({role}).": "{site}: T {t} tính theo quần thể {reference} ({role}).",
    "{site}: T {t} computed against {reference}, {device} BMD {bmd} converted through sBMD to {scaled} g/cm2 on the "
    "reference's scale ({role}).":
        "{site}: T {t} tính theo quần thể {reference}, BMD {bmd} của máy {device} được quy đổi qua sBMD thành "
        "{scaled} g/cm2 theo thang của quần thể tham chiếu ({role}).",
    "decides": "dùng để quyết định",
    "shown, does not decide": "chỉ hiển thị, không dùng để quyết định",
    "Against {reference}: lowest T {t} at {site} -> {category}.":
        "So với {reference}: T thấp nhất {t} tại {site} -> {category}.",
    "The decision uses the NHANES/manufacturer T-score ({t} -> {category}), as ISCD and international guidelines do.":
        "Quyết định dùng chỉ số T theo NHANES/nhà sản xuất ({t} -> {category}), như ISCD và các hướng dẫn quốc tế.",
    "NHANES-based T-scores classify more Vietnamese patients as osteoporotic (postmenopausal women {nhanes_percent}% "
    "vs {vietnamese_percent}% with a Vietnamese reference, Ho-Pham 2011).":
        "Chỉ số T theo NHANES xếp nhiều bệnh nhân Việt Nam vào nhóm loãng xương hơn (phụ nữ đã mãn kinh "
        "{nhanes_percent}% so với {vietnamese_percent}% khi dùng quần thể tham chiếu Việt Nam, Ho-Pham 2011).",
    "Lowest Z-score {z} at {site} <= {z_max}: below the expected range for age.":
        "Chỉ số Z thấp nhất {z} tại {site} <= {z_max}: dưới khoảng dự kiến theo tuổi.",
    "Lowest Z-score {z} at {site} > {z_max}: within the expected range for age.":
        "Chỉ số Z thấp nhất {z} tại {site} > {z_max}: trong khoảng dự kiến theo tuổi.",
    "the only creatinine results are dated after the assessment date ({as_of}); results from later days are not "
    "used": "các kết quả creatinin đều có ngày sau ngày đánh giá ({as_of}); không dùng kết quả của những ngày sau đó",
    "no serum creatinine recorded (creatinine_umol_l, creatinine_mg_dl or a 'creatinine' lab)":
        "chưa ghi nhận creatinin huyết thanh (creatinine_umol_l, creatinine_mg_dl hoặc một xét nghiệm 'creatinine')",
    "no FRAX result entered ({fields}); OsteoCare never computes FRAX - enter MOF % and hip % from an official FRAX "
    "tool": "chưa nhập kết quả FRAX ({fields}); OsteoCare không bao giờ tự tính FRAX - hãy nhập % gãy xương chính do "
            "loãng xương (MOF) và % gãy xương hông từ một công cụ FRAX chính thức",
    "age {age} is below {min_age}: CAROC applies from age {min_age} (CAROC-SCOPE)":
        "tuổi {age} dưới {min_age}: CAROC áp dụng từ {min_age} tuổi (CAROC-SCOPE)",
    "CAROC applies to treatment-naive patients only and cannot show risk reduction on therapy; medications recorded: "
    "{drugs} (CAROC-SCOPE)": "CAROC chỉ áp dụng cho người chưa từng điều trị và không thể hiện được mức giảm nguy cơ "
                             "khi đang điều trị; thuốc đã ghi nhận: {drugs} (CAROC-SCOPE)",
    "{tool} is for {sex} patients": "{tool} dành cho người bệnh {sex}",
    "weight_kg is not recorded (the index needs weight and age)":
        "chưa ghi nhận weight_kg (chỉ số cần cân nặng và tuổi)",
    "BMI (or weight_kg and height_cm) is not recorded": "chưa ghi nhận BMI (hoặc weight_kg và height_cm)",
    "age {age} is below the model range {low}-{high} years": "tuổi {age} dưới khoảng của mô hình {low}-{high} tuổi",
    "age {age} is above the model range {low}-{high} years": "tuổi {age} trên khoảng của mô hình {low}-{high} tuổi",
    "BMI {bmi} is below the model range {low}-{high} kg/m2 (a clamped value would under-estimate the risk)":
        "BMI {bmi} dưới khoảng của mô hình {low}-{high} kg/m2 (dùng giá trị bị chặn sẽ đánh giá thấp nguy cơ)",
    "BMI {bmi} is above the model range {low}-{high} kg/m2": "BMI {bmi} trên khoảng của mô hình {low}-{high} kg/m2",
    "horizon {years} years is outside the published range {low}-{high} years":
        "khoảng thời gian {years} năm nằm ngoài khoảng đã công bố {low}-{high} năm",
    "age or BMI is missing": "thiếu tuổi hoặc BMI",
    "Calculators that did not apply": "Các công cụ tính không áp dụng",
    "{drug} {dose} {route}, {how}, {where}": "{drug} {dose} {route}, {how}, {where}",
    "{amount} {unit}": "{amount} {unit}",
    "dose per label": "liều theo tờ hướng dẫn sử dụng",
    "as directed": "theo chỉ định",
    "{n} times a day": "ngày {n} lần",
    "every day": "mỗi ngày",
    "every week": "mỗi tuần",
    "every month": "mỗi tháng",
    "every year": "mỗi năm",
    "every {n} days": "mỗi {n} ngày",
    "every {n} weeks": "mỗi {n} tuần",
    "every {n} months": "mỗi {n} tháng",
    "every {n} years": "mỗi {n} năm",
    "subcutaneous injection": "tiêm dưới da",
    "at the clinic": "tại phòng khám",
    "at home": "tại nhà",
    "Someone else corrected this identity after you opened the form; nothing was saved. The form now shows what is "
    "stored: make your correction again.": "Người khác đã sửa thông tin định danh này sau khi bạn mở biểu mẫu; chưa "
                                           "có gì được lưu. Biểu mẫu nay hiển thị thông tin đang lưu: hãy sửa lại.",
    "IOF/ESCEO 2020 very-high FRAX threshold not applied: the intervention-threshold table is not available "
    "(status: unverified).": "Không áp dụng ngưỡng FRAX nguy cơ rất cao của IOF/ESCEO 2020: không có bảng ngưỡng "
                             "can thiệp (trạng thái: chưa xác minh).",
    "NOGG 2022 thresholds not available to OsteoCare: enter the NOGG category from the NOGG tool (status: "
    "unverified).": "OsteoCare không có các ngưỡng của NOGG 2022: hãy nhập nhóm NOGG từ công cụ NOGG (trạng thái: "
                    "chưa xác minh).",
    "{guideline} assumes the {model} FRAX model; the FRAX result entered used '{used}'.":
        "{guideline} giả định mô hình FRAX {model}; kết quả FRAX đã nhập dùng mô hình '{used}'.",
    "{guideline} assumes the {model} FRAX model; the FRAX country model used is not recorded.":
        "{guideline} giả định mô hình FRAX {model}; chưa ghi nhận mô hình quốc gia FRAX đã dùng.",
    "age {age} is not in whole years (the model takes completed years)":
        "tuổi {age} không phải số năm tròn (mô hình dùng số năm tuổi đã tròn)",
    "no vertebral heights are recorded": "chưa ghi nhận chiều cao đốt sống nào",
    "ISCD uses Z-scores for this patient and no Z-score is recorded at the diagnostic sites; OsteoCare has no "
    "age-matched reference to compute one, and T-scores must not be used for this group":
        "ISCD dùng chỉ số Z cho người bệnh này và chưa ghi nhận chỉ số Z nào tại các vị trí chẩn đoán; OsteoCare không "
        "có quần thể tham chiếu theo tuổi để tự tính, và không được dùng chỉ số T cho nhóm này",
    "with BMD": "có dùng BMD",
    "without BMD": "không dùng BMD",
    "BMD use not recorded": "chưa ghi nhận có dùng BMD hay không",
    "NOT RECORDED": "CHƯA GHI NHẬN",
    "densitometer report (manufacturer reference)": "kết quả của máy đo (quần thể tham chiếu của nhà sản xuất)",
    "NHANES III": "NHANES III",
    "medium": "trung bình",
    "undefined": "không xác định",
})


VI.update({
    "Checks: {items}.": "Cần kiểm tra: {items}.",
    "Active course of {drug}: the contraindication check now finds {rule_id} ({kind}): {finding}":
        "Đợt điều trị {drug} đang dùng: kiểm tra chống chỉ định nay phát hiện {rule_id} ({kind}): {finding}",
    "The contraindication check of the active courses could not be run after this change: {error}":
        "Không chạy được kiểm tra chống chỉ định của các đợt điều trị đang dùng sau thay đổi này: {error}",
    "must not": "chống chỉ định",
    "fix first": "cần xử trí trước",
    "Fix first: {finding}": "Cần xử lý trước: {finding}",
    "Check before starting: {rule} (missing: {missing})": "Kiểm tra trước khi bắt đầu: {rule} (còn thiếu: {missing})",
})
# the Genant grading's explanation (core.vertebral) and the dated vertebral readings on the patient page
VI.update({
    "Largest of the wedge, biconcave and crush reductions, rounded to {nd} decimal: < {g1}% grade 0; {g1}% to < "
    "{g2}% grade 1; {g2}% to <= {g3}% grade 2; > {g3}% grade 3 (OsteoCare convention for a visual method).":
        "Lấy mức giảm lớn nhất trong các mức giảm chiều cao dạng hình chêm, hai mặt lõm và lún xẹp, làm tròn đến {nd} "
        "chữ số thập phân: < {g1}% độ 0; {g1}% đến < {g2}% độ 1; {g2}% đến <= {g3}% độ 2; > {g3}% độ 3 (quy ước "
        "của OsteoCare cho một phương pháp vốn đánh giá bằng mắt).",
    "Fractured: {levels}.": "Đốt sống gãy: {levels}.",
    "Fractured: none.": "Đốt sống gãy: không có.",
    "{level} grade {grade} ({kind} {reduction}%)": "{level} độ {grade} ({kind} {reduction}%)",
    "Heights read on: {levels}.": "Ngày đọc chiều cao: {levels}.",
    "{level} {date}": "{level} {date}",
    "{level} (no date)": "{level} (không có ngày)",
    "Earlier measurements, replaced by a later one of the same level and not graded: {levels}.":
        "Các lần đo trước, đã được thay bằng lần đo sau của cùng đốt sống và không được phân độ: {levels}.",
    "wedge": "hình chêm",
    "biconcave": "hai mặt lõm",
    "crush": "lún xẹp",
    "replaced by a later reading": "đã được thay bằng lần đọc sau",
    "Day of the radiograph or VFA": "Ngày chụp X-quang hoặc VFA",
    "vertebral_fracture": "có gãy đốt sống",
    "no_vertebral_fracture": "không gãy đốt sống",
    "significant_decrease": "giảm có ý nghĩa",
    "significant_increase": "tăng có ý nghĩa",
    "no_significant_change": "không thay đổi có ý nghĩa",
    "ok": "đạt",
    "not_ok": "không đạt",
    "to_review": "cần xem xét",
    "not_configured": "chưa cấu hình",
    "missing": "còn thiếu",
    "Checks before the dose of {drug} due {date}": "Kiểm tra trước liều {drug} đến hạn {date}",
    "Read before you go on:": "Hãy đọc trước khi tiếp tục:",
    # the patient page's appointments (review, DXA and lab items): done, booked, cancelled
    "Appointments: reviews, DXA and lab tests": "Lịch hẹn: tái khám, đo DXA và xét nghiệm",
    "booked for {when}": "đã đặt lịch lúc {when}",
    "Mark as done": "Đánh dấu đã thực hiện",
    "Done on": "Ngày thực hiện",
    "Note": "Ghi chú",
    "Save as done": "Lưu là đã thực hiện",
    "Book a time": "Đặt giờ hẹn",
    "Date and time": "Ngày và giờ",
    "Book": "Đặt lịch",
    "Cancel this appointment": "Hủy lịch hẹn này",
    "Why it is not simply cancelled:": "Vì sao không thể hủy ngay:",
    "Reason for cancelling": "Lý do hủy",
    "Override reason (required to cancel a follow-on review that no course fulfils yet)":
        "Lý do vẫn hủy (bắt buộc khi hủy lần tái khám chuyển tiếp mà chưa có đợt điều trị nào đáp ứng)",
    "Cancel appointment": "Hủy lịch hẹn",
    "No open appointment.": "Không có lịch hẹn nào đang chờ.",
    "Appointment reasons translated by OsteoCare, not yet reviewed by a clinician.":
        "Lý do lịch hẹn do OsteoCare dịch, chưa được bác sĩ duyệt.",
    "The next {what} is due on {date}.": "Lần {what} tiếp theo đến hạn vào {date}.",
    "Write your reason for cancelling this follow-on review despite the finding above.":
        "Hãy ghi lý do vẫn hủy lần tái khám chuyển tiếp này dù có cảnh báo ở trên.",
    "Only a doctor may cancel this follow-on review, with a written override reason.":
        "Chỉ bác sĩ mới được hủy lần tái khám chuyển tiếp này, kèm lý do bằng văn bản.",
    # an entry already recorded (a retried form): refused unless confirmed as another one
    "This is already recorded: {kind} {id} ({details}); nothing was saved.":
        "Mục này đã được ghi nhận: {kind} {id} ({details}); chưa lưu gì.",
    "Intolerance": "Không dung nạp thuốc",
    "Fall": "Lần té ngã",
    "This is another fracture of the same site and date, not the same one again: save it too":
        "Đây là một lần gãy xương khác cùng vị trí và cùng ngày, không phải lần cũ nhập lại: vẫn lưu",
    "This is another one, not the same one sent again: save it too":
        "Đây là một mục khác, không phải mục cũ gửi lại: vẫn lưu",
    "Resolved on (with a resolved outcome; empty: today)":
        "Ngày hết (khi kết cục là đã hết; để trống: hôm nay)",
})
VI["Recommendation texts translated by OsteoCare, not yet reviewed by a clinician; the printable summary is in English."] = (
    "Nội dung khuyến nghị do OsteoCare dịch, chưa được bác sĩ duyệt; bản tóm tắt để in bằng tiếng Anh.")
# statuses shown beside the drugs not offered, the due dates and on the patient's own page; error pages' details
VI.update({
    "Drugs not offered": "Các thuốc không được đề xuất",
    "This due date": "Ngày đến hạn này",
    "Taken from a secondary source; not yet checked against the original.":
        "Lấy từ nguồn thứ cấp; chưa được đối chiếu với nguồn gốc.",
    "Not yet confirmed from the original source.": "Chưa được xác nhận từ nguồn gốc.",
    "the form has no valid CSRF token; reload the page and submit again":
        "biểu mẫu không có mã CSRF hợp lệ; hãy tải lại trang và gửi lại",
    "the form's CSRF token belongs to another session; reload the page and submit again":
        "mã CSRF của biểu mẫu thuộc về một phiên khác; hãy tải lại trang và gửi lại",
    "No {what} {key}": "Không tìm thấy {what} {key}",
    "question": "câu hỏi",
    "published question": "câu hỏi đã công bố",
    "course": "đợt điều trị",
    "appointment": "lịch hẹn",
    "reaction": "phản ứng",
    "lab result": "kết quả xét nghiệm",
    "calendar": "lịch",
})


def _knowledge_sentences() -> dict[str, str]:
    """The knowledge files' sentences (guideline rules, drug labels' rules and regimens, sequencing, screening
    actions): ``vi_knowledge/*.json``, English sentence -> Vietnamese. OsteoCare's own translations, not reviewed by
    a clinician: the pages say so. A sentence already above keeps its translation."""
    import json
    from pathlib import Path

    out: dict[str, str] = {}
    for f in sorted((Path(__file__).parent / "vi_knowledge").glob("*.json")):
        out.update(json.loads(f.read_text(encoding="utf-8")))
    return out


for _en, _vi in _knowledge_sentences().items():
    VI.setdefault(_en, _vi)


def write() -> None:
    from pathlib import Path

    from babel.messages.catalog import Catalog
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import write_po

    cat = Catalog(locale="vi", project="OsteoCare", charset="utf-8")
    for k, v in VI.items():
        cat.add(k, v)
    d = Path(__file__).parent / "vi" / "LC_MESSAGES"
    d.mkdir(parents=True, exist_ok=True)
    with (d / "messages.po").open("wb") as f:
        write_po(f, cat, width=0, omit_header=False)
    with (d / "messages.mo").open("wb") as f:
        write_mo(f, cat)


if __name__ == "__main__":
    write()
